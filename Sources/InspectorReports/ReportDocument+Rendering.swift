extension ReportDocument {
    /// The report as Markdown.
    public func markdown() -> String {
        var out = "# \(title)\n"
        for block in blocks {
            out += "\n"
            switch block {
            case .heading(let level, let text):
                out += String(repeating: "#", count: min(level, 6)) + " " + text + "\n"
            case .paragraph(let text):
                out += Self.escapeMarkdown(text) + "\n"
            case .list(let entries):
                for entry in entries {
                    let text = Self.escapeMarkdown(entry.text)
                    out += "- " + (entry.struck ? "~~\(text)~~" : text) + (entry.note.map { " — _\(Self.escapeMarkdown($0))_" } ?? "") + "\n"
                    for file in entry.files {
                        let name = Self.escapeMarkdown(file.name)
                        out += "  - Tệp đính kèm: " + (file.path.map { "[\(name)](\($0))" } ?? name) + " (\(Self.escapeMarkdown(file.detail))"
                        out += (file.path == nil ? "; chưa có tệp tại máy chủ" : "") + ")\n"
                    }
                }
            case .table(let header, let rows):
                out += "| " + header.map(Self.escapeCell).joined(separator: " | ") + " |\n"
                out += "|" + header.map { _ in " --- |" }.joined() + "\n"
                for row in rows { out += "| " + row.map(Self.escapeCell).joined(separator: " | ") + " |\n" }
            }
        }
        return out
    }

    /// The report as one printable HTML page: A4, a print stylesheet, no external assets.
    public func html() -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="vi">
            <head>
            <meta charset="utf-8">
            <title>\(Self.escapeHTML(title))</title>
            <style>
            @page { size: A4; margin: 18mm 15mm; }
            body { font-family: "Times New Roman", "DejaVu Serif", serif; font-size: 12pt; line-height: 1.35; color: #000; max-width: 180mm; margin: 0 auto; }
            h1 { font-size: 16pt; text-align: center; text-transform: uppercase; }
            h2 { font-size: 14pt; margin-top: 1.2em; page-break-before: always; border-bottom: 1px solid #000; }
            h2.first { page-break-before: avoid; }
            h3 { font-size: 13pt; } h4 { font-size: 12pt; font-style: italic; } h5 { font-size: 12pt; margin-bottom: 0.2em; }
            table { border-collapse: collapse; width: 100%; font-size: 10pt; page-break-inside: auto; }
            th, td { border: 1px solid #000; padding: 2pt 4pt; vertical-align: top; text-align: left; }
            tr { page-break-inside: avoid; }
            .note { color: #444; font-style: italic; }
            del { color: #555; }
            ul.files { list-style: none; padding-left: 1em; }
            img.thumb { max-width: 160px; max-height: 120px; vertical-align: middle; border: 1px solid #999; }
            @media print { a { color: #000; text-decoration: none; } }
            </style>
            </head>
            <body>
            <h1>\(Self.escapeHTML(title))</h1>

            """
        var firstSection = true
        for block in blocks {
            switch block {
            case .heading(let level, let text):
                let tag = "h\(min(level, 6))"
                let cls = level == 2 && firstSection ? " class=\"first\"" : ""
                if level == 2 { firstSection = false }
                out += "<\(tag)\(cls)>\(Self.escapeHTML(text))</\(tag)>\n"
            case .paragraph(let text):
                out += "<p>\(Self.escapeHTML(text))</p>\n"
            case .list(let entries):
                out += "<ul>\n"
                for entry in entries {
                    let text = Self.escapeHTML(entry.text)
                    out += "<li>" + (entry.struck ? "<del>\(text)</del>" : text)
                    if let note = entry.note { out += " <span class=\"note\">— \(Self.escapeHTML(note))</span>" }
                    if !entry.files.isEmpty {
                        // Thumbnails of the images linked to the full files, made without a network:
                        // the files sit beside the report. A file the hub lacks is listed, not broken.
                        out += "<ul class=\"files\">\n"
                        for file in entry.files {
                            let name = Self.escapeHTML(file.name), detail = Self.escapeHTML(file.detail)
                            if let path = file.path.map(Self.escapeHTML) {
                                out += file.isImage
                                    ? "<li><a href=\"\(path)\"><img src=\"\(path)\" alt=\"\(name)\" class=\"thumb\"></a> <a href=\"\(path)\">\(name)</a> <span class=\"note\">(\(detail))</span></li>\n"
                                    : "<li><a href=\"\(path)\">\(name)</a> <span class=\"note\">(\(detail))</span></li>\n"
                            } else {
                                out += "<li>\(name) <span class=\"note\">(\(detail); chưa có tệp tại máy chủ)</span></li>\n"
                            }
                        }
                        out += "</ul>\n"
                    }
                    out += "</li>\n"
                }
                out += "</ul>\n"
            case .table(let header, let rows):
                out += "<table>\n<thead><tr>" + header.map { "<th>\(Self.escapeHTML($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
                for row in rows { out += "<tr>" + row.map { "<td>\(Self.escapeHTML($0))</td>" }.joined() + "</tr>\n" }
                out += "</tbody>\n</table>\n"
            }
        }
        out += "</body>\n</html>\n"
        return out
    }

    static func escapeHTML(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    static func escapeMarkdown(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\`*_[]<>|~#".contains(character) { out.append("\\") }
            out.append(character == "\n" ? " " : character)
        }
        return out
    }

    static func escapeCell(_ text: String) -> String {
        escapeMarkdown(text)
    }
}

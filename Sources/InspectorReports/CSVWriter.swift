/// Writes CSV for the office: UTF-8 with a byte-order mark, CRLF line ends (RFC 4180), text fields
/// quoted when they hold a comma, a semicolon, a quote or a line break, or start or end with a space. Numbers and ISO dates are written bare so
/// that Excel and LibreOffice Calc read them as numbers and dates.
public struct CSVWriter: Sendable {
    /// A cell: text (quoted when needed) or a bare value (numbers, dates).
    public enum Cell: Sendable, Hashable {
        case text(String)
        case bare(String)
        case empty
    }

    private var output = "\u{FEFF}"

    public init(header: [String]) {
        append(header.map(Cell.text))
    }

    public mutating func append(_ row: [Cell]) {
        output += row.map { cell in
            switch cell {
            case .text(let text): Self.quote(text)
            case .bare(let text): text
            case .empty: ""
            }
        }.joined(separator: ",")
        output += "\r\n"
    }

    /// The file's bytes.
    public var bytes: [UInt8] { Array(output.utf8) }

    static func quote(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == ";" }) || text.hasPrefix(" ") || text.hasSuffix(" ") else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

import Foundation

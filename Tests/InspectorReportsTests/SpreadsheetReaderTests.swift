import Foundation
import InspectorTestSupport
import InspectorCore
import Testing
@testable import InspectorReports

/// Opens the office CSVs with a real spreadsheet program, LibreOffice Calc in headless mode, and reads
/// the cells back from the .xlsx it writes. The import uses what Calc's Text Import dialog offers for
/// these files: comma-separated, `"` quotes, character set Unicode (UTF-8), "detect special numbers"
/// on (filter options `44,34,76,1,,1033,false,true`). Headless Calc does not sniff the byte-order
/// mark as the dialog and Excel do, so the character set is named; the BOM must then not show up as
/// a stray character in the first header.
@Suite(.serialized) struct SpreadsheetReaderTests {
    static let soffice = ["/usr/bin/soffice", "/usr/bin/libreoffice", "/usr/lib/libreoffice/program/soffice"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// CI installs LibreOffice (.ci/run), so there a missing binary is a failure, not a skip.
    static var isRequired: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test(.enabled(if: soffice != nil || isRequired, "LibreOffice is not installed (apt-get install libreoffice-calc-nogui)"),
          .timeLimit(.minutes(5)))
    func libreOfficeReadsTheVietnameseTextAndTypes() throws {
        let soffice = try #require(Self.soffice, "LibreOffice is required in CI")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = ExportFixture.input()
        try Data(OfficeCSV.values(input)).write(to: folder.appendingPathComponent("values.csv"))
        try Data(OfficeCSV.findings(input)).write(to: folder.appendingPathComponent("findings.csv"))

        for name in ["values", "findings"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: soffice)
            process.arguments = ["-env:UserInstallation=file://\(folder.path)/profile", "--headless",
                                 "--infilter=CSV:44,34,76,1,,1033,false,true", "--convert-to", "xlsx",
                                 "--outdir", folder.path, folder.appendingPathComponent("\(name).csv").path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try ProcessLaunchGate.launch { try process.run() }
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "LibreOffice failed to convert \(name).csv")
        }
        let values = try cells(of: folder.appendingPathComponent("values.xlsx"))
        let findings = try cells(of: folder.appendingPathComponent("findings.xlsx"))

        // Text cells keep every diacritic, byte for byte (NFC); the header starts clean.
        #expect(values.first?.value == "Mã đơn vị")
        let note = "Thị xã vùng cao, \"đặc thù\"; nhiều bản xa"
        #expect(values.contains { $0.type == "s" && Array($0.value.utf8) == Array(note.utf8) })
        #expect(values.contains { $0.type == "s" && $0.value == "UBND thị xã Mường Lay" })
        #expect(findings.contains { $0.type == "s" && $0.value == "Mô hình “Dân vận khéo” ở phường Na Lay" })
        #expect(findings.contains { $0.type == "s" && $0.value == "Quàng Thị Hoa" })
        // Numbers are numbers, and times are read as dates (numeric serials), not text.
        #expect(values.contains { $0.type == "n" && $0.value == "182500000" })
        #expect(!values.contains { $0.type == "s" && $0.value == "182500000" })
        #expect(!values.contains { $0.type == "s" && $0.value.hasPrefix("2024-06-20 ") }, "times are read as dates")
        #expect(values.contains { $0.type == "n" && ($0.value.hasPrefix("45463.") || $0.value == "45463") }, "20/06/2024 is serial 45463")
    }

    struct Cell { var type: String; var value: String }

    /// The cells of the first sheet: type `s` (text), `n` (number) and the value, read with Python's zipfile.
    func cells(of xlsx: URL) throws -> [Cell] {
        let script = """
            import sys, zipfile, xml.etree.ElementTree as ET
            ns = {'m': 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'}
            z = zipfile.ZipFile(sys.argv[1])
            shared = []
            if 'xl/sharedStrings.xml' in z.namelist():
                for si in ET.fromstring(z.read('xl/sharedStrings.xml')).findall('m:si', ns):
                    shared.append(''.join(t.text or '' for t in si.iter('{%s}t' % ns['m'])))
            sheet = ET.fromstring(z.read('xl/worksheets/sheet1.xml'))
            for c in sheet.iter('{%s}c' % ns['m']):
                v = c.find('m:v', ns)
                if v is None: continue
                t = c.get('t', 'n')
                value = shared[int(v.text)] if t == 's' else v.text
                sys.stdout.write(t + '\\t' + value.replace('\\n', ' ') + '\\n')
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, xlsx.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try ProcessLaunchGate.launch { try process.run() }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            return Cell(type: String(parts[0]), value: parts.count > 1 ? String(parts[1]) : "")
        }
    }
}

import InspectorCore

/// The hub's export folder: every file, by name, with its bytes.
///
/// The same snapshot always produces byte-identical files: no generation time inside, fixed orders.
public enum ExportFiles {
    /// The names of an export's files, in the order ``make(_:)`` gives them, without making them.
    public static func names(of input: ExportInput) -> [String] {
        producers(input).map(\.name)
    }

    /// The files of an export, in a fixed order.
    public static func make(_ input: ExportInput) -> [(name: String, bytes: [UInt8])] {
        producers(input).map { ($0.name, $0.make()) }
    }

    /// Each file's name and how to make it; the report is built once, for both of its forms.
    private static func producers(_ input: ExportInput) -> [(name: String, make: () -> [UInt8])] {
        let report = Lazy { ReportDocument(input) }
        var files: [(name: String, make: () -> [UInt8])] = [
            ("dataset.json", { Array(input.dataset.canonicalJSON().utf8) }),
            ("units.csv", { OfficeCSV.units(input) }),
            ("values.csv", { OfficeCSV.values(input) }),
            ("findings.csv", { OfficeCSV.findings(input) }),
            ("conflicts.csv", { OfficeCSV.conflicts(input) }),
            ("attachments.csv", { OfficeCSV.attachments(input) }),
            ("report.md", { Array(report.value.markdown().utf8) }),
            ("report.html", { Array(report.value.html().utf8) }),
        ]
        // The hub's own statement; the files above are the same at the hub and at a device.
        if let logs = input.logs { files.append(("logs.csv", { OfficeCSV.logs(logs, input) })) }
        return files
    }

    /// A value made on first use.
    private final class Lazy<Value> {
        private let make: () -> Value
        private var made: Value?
        init(_ make: @escaping () -> Value) { self.make = make }
        var value: Value {
            if let made { return made }
            let value = make()
            made = value
            return value
        }
    }
}

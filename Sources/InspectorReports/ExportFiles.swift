import InspectorCore

/// The hub's export folder: every file, by name, with its bytes.
///
/// The same snapshot always produces byte-identical files: no generation time inside, fixed orders.
public enum ExportFiles {
    /// The names of an export's files, in the order ``make(_:)`` gives them, without making them.
    public static func names(of input: ExportInput) -> [String] {
        ["dataset.json", "units.csv", "values.csv", "findings.csv", "conflicts.csv", "attachments.csv", "report.md", "report.html"]
            + (input.logs == nil ? [] : ["logs.csv"])
    }

    /// The files of an export, in a fixed order.
    public static func make(_ input: ExportInput) -> [(name: String, bytes: [UInt8])] {
        let report = ReportDocument(input)
        var files: [(name: String, bytes: [UInt8])] = [
            ("dataset.json", Array(input.dataset.canonicalJSON().utf8)),
            ("units.csv", OfficeCSV.units(input)),
            ("values.csv", OfficeCSV.values(input)),
            ("findings.csv", OfficeCSV.findings(input)),
            ("conflicts.csv", OfficeCSV.conflicts(input)),
            ("attachments.csv", OfficeCSV.attachments(input)),
            ("report.md", Array(report.markdown().utf8)),
            ("report.html", Array(report.html().utf8)),
        ]
        // The hub's own statement; the files above are the same at the hub and at a device.
        if let logs = input.logs { files.append(("logs.csv", OfficeCSV.logs(logs, input))) }
        return files
    }
}

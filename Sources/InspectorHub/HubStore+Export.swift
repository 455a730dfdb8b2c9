import Foundation
import GRDB
import InspectorCore
import InspectorReports
import InspectorStore

extension HubStore {
    /// Clock offsets beyond this mark a value as written with a skewed clock.
    public static let skewThreshold: Int64 = 5 * 60 * 1000

    /// Records a supervisor's decision on a field: a new `set` op by the hub, stamped after everything
    /// the hub has seen, so it wins everywhere once devices sync; the ledger shows who decided and when.
    ///
    /// - Parameter by: the supervisor's name.
    /// - Returns: the op.
    @discardableResult
    public func resolve(unit: String, item: String, field: String, value: String, by: String) throws -> Op {
        let name = try Text.validated(by, what: "the supervisor's name (--by)", maximumLength: 200)
        return try replica.set(unit: unit, item: item, field: field, value: value) { db, op in
            try db.execute(sql: """
                INSERT INTO resolutions (seq, unit, item, field, value, decided_by, ms, counter) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [op.sequence, unit, item, field, op.value, name, op.timestamp.millis, op.timestamp.counter])
        }
    }

    /// Records the day the team arrives at a unit.
    public func schedule(unit: String, arrival: CalendarDate) throws {
        try replica.checkKnownUnit(unit)
        try replica.write { db in
            try db.execute(sql: "INSERT INTO schedules (unit, arrival) VALUES (?, ?) ON CONFLICT(unit) DO UPDATE SET arrival = excluded.arrival",
                           arguments: [unit, arrival.isoString])
        }
    }

    /// Reads everything the export files need from one snapshot.
    public func exportInput(asOf: CalendarDate) throws -> ExportInput {
        try replica.read { db in
            let dataset = try replica.dataset(db)
            var holders: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM devices WHERE name IS NOT NULL") {
                holders[row["id"]] = row["name"]
            }
            var schedules: [String: CalendarDate] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT unit, arrival FROM schedules") {
                if let date = try? CalendarDate(iso: row["arrival"]) { schedules[row["unit"]] = date }
            }
            let resolutions = try Row.fetchAll(db, sql: "SELECT * FROM resolutions ORDER BY seq").map { row in
                ExportInput.Resolution(unit: row["unit"], item: row["item"], field: row["field"], value: row["value"], by: row["decided_by"],
                                       timestamp: HLCTimestamp(millis: row["ms"], counter: row["counter"], device: Self.deviceID), sequence: row["seq"])
            }
            var skewed: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT first_position, last_position FROM push_offsets WHERE abs(clock_offset) > ?",
                                        arguments: [Self.skewThreshold]) {
                let first: Int64 = row[0]
                let last: Int64 = row[1]
                guard first <= last else { continue }
                skewed += try ReplicaStore.operationIdentities(db, positions: first...last)
            }
            let logs = try Row.fetchAll(db, sql: "SELECT id, device_key, confirmed, chain_from, chain_through FROM devices ORDER BY id").map { row in
                let through: Int64 = row["chain_through"]
                let from: Int64 = row["chain_from"] ?? 1
                return ExportInput.DeviceLog(device: row["id"], key: row["device_key"], confirmed: row["confirmed"],
                                             verified: through > 0 && from <= through ? from...through : nil)
            }
            let files = attachmentFiles
            let named = Set(dataset.findings.flatMap { $0.attachments.map(\.descriptor.hash) })
            return ExportInput(dataset: dataset, holders: holders, schedules: schedules, resolutions: resolutions,
                               skewedOperations: Set(skewed), asOf: asOf, logs: logs, heldFiles: named.filter(files.holds))
        }
    }

    /// Writes the export folder: `dataset.json`, the CSVs (`logs.csv`: whether each device's log
    /// verified against its signed chain heads; `attachments.csv`), `report.md`, `report.html`, and
    /// under `attachments/` the files the hub holds.
    ///
    /// - Returns: the paths written.
    @discardableResult
    public func export(to directory: URL, asOf: CalendarDate) throws -> [URL] {
        let input = try exportInput(asOf: asOf)
        let files = ExportFiles.make(input)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var written = try files.map { file in
                let url = directory.appendingPathComponent(file.name)
                try Data(file.bytes).write(to: url, options: .atomic)
                return url
            }
            // The files the hub holds, named by hash with their type's extension (the links of
            // report.html and attachments.csv); one copy per content.
            var copied = Set<String>()
            for finding in input.dataset.findings {
                for attachment in finding.attachments {
                    let file = attachment.descriptor
                    guard let path = input.exportedPath(of: file), copied.insert(file.hash).inserted else { continue }
                    let url = directory.appendingPathComponent(path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try attachmentFiles.copy(file.hash, to: url.path)
                    written.append(url)
                }
            }
            return written
        } catch {
            throw HubError(.exportFailed, "cannot write the export to \(directory.path)")
        }
    }
}

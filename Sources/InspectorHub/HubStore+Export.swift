import Crypto
import Foundation
import GRDB
import InspectorCore
import InspectorReports
import InspectorStore

extension HubStore {
    /// Clock offsets beyond this mark a value as written with a skewed clock.
    public static let skewThreshold: Int64 = 5 * 60 * 1000

    /// Records a supervisor's decision on a field: a new `set` op by the hub, stamped after everything
    /// the hub has seen, so it wins everywhere once devices sync; the ledger shows who decided and when,
    /// and the audit list has it.
    ///
    /// - Parameter by: the supervisor's name.
    /// - Returns: the op.
    @discardableResult
    public func resolve(unit: String, item: String, field: String, value: String, by: String) throws -> Op {
        let name = try Text.validated(by, what: "the supervisor's name (--by)", maximumLength: 200)
        return try replica.set(unit: unit, item: item, field: field, value: value, also: recordResolution(by: name))
    }

    /// Records a supervisor's decision like ``resolve(unit:item:field:value:by:)``, without blocking the calling thread.
    @discardableResult
    public func resolve(unit: String, item: String, field: String, value: String, by: String) async throws -> Op {
        let name = try Text.validated(by, what: "the supervisor's name", maximumLength: 200)
        return try await replica.set(unit: unit, item: item, field: field, value: value, also: recordResolution(by: name))
    }

    private func recordResolution(by name: String) -> @Sendable (Database, Op) throws -> Void {
        { db, op in
            try db.execute(sql: """
                INSERT INTO resolutions (seq, unit, item, field, value, decided_by, ms, counter) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [op.sequence, op.unit, op.item, op.field, op.value, name, op.timestamp.millis, op.timestamp.counter])
            try Self.audit(db, at: op.timestamp.millis, user: name, action: .resolve,
                           detail: "\(op.unit) · \(op.item ?? "") · \(op.field ?? "") = \(op.value) (hub#\(op.sequence))")
        }
    }

    /// Who the command line's decisions are recorded under when it names no one.
    public static let commandLineUser = "hub (dòng lệnh)"

    /// Records the day the team arrives at a unit, and who decided it in the audit list.
    public func schedule(unit: String, arrival: CalendarDate, by: String = HubStore.commandLineUser) throws {
        try replica.checkKnownUnit(unit)
        let name = try Text.validated(by, what: "the name of who schedules", maximumLength: 200)
        let now = self.now()
        try replica.write { db in try Self.recordSchedule(db, unit: unit, arrival: arrival, by: name, at: now) }
    }

    /// Records the day the team arrives at a unit like ``schedule(unit:arrival:by:)``, without blocking the calling thread.
    public func schedule(unit: String, arrival: CalendarDate, by: String) async throws {
        try replica.checkKnownUnit(unit)
        let name = try Text.validated(by, what: "the name of who schedules", maximumLength: 200)
        let now = self.now()
        try await replica.write { db in try Self.recordSchedule(db, unit: unit, arrival: arrival, by: name, at: now) }
    }

    private static func recordSchedule(_ db: Database, unit: String, arrival: CalendarDate, by name: String, at now: Int64) throws {
        try db.execute(sql: "INSERT INTO schedules (unit, arrival) VALUES (?, ?) ON CONFLICT(unit) DO UPDATE SET arrival = excluded.arrival",
                       arguments: [unit, arrival.isoString])
        try audit(db, at: now, user: name, action: .schedule, detail: "\(unit): đoàn đến ngày \(arrival.vietnameseString)")
    }

    /// Reads everything the export files need from one snapshot.
    public func exportInput(asOf: CalendarDate) throws -> ExportInput {
        try replica.read { db in try exportInput(db, asOf: asOf) }
    }

    /// Reads everything the export files need from one snapshot, without blocking the calling thread.
    ///
    /// - Parameters:
    ///   - includingFindings: false leaves the dataset's findings out, and with them `heldFiles`
    ///     (nil); a reader that shows findings a page at a time reads them with
    ///     ``findingEntries()`` and ``findings(ids:)``.
    ///   - includingConflicts: false leaves the dataset's conflicts out; a reader that shows the
    ///     ledger a page at a time reads it with ``conflictEntries()`` and ``conflicts(of:)``.
    public func exportInput(asOf: CalendarDate, includingFindings: Bool = true, includingConflicts: Bool = true) async throws -> ExportInput {
        try await replica.read { db in
            try exportInput(db, asOf: asOf, includingFindings: includingFindings, includingConflicts: includingConflicts)
        }
    }

    private func exportInput(_ db: Database, asOf: CalendarDate, includingFindings: Bool = true, includingConflicts: Bool = true) throws -> ExportInput {
        do {
            let dataset = try replica.dataset(db, includingFindings: includingFindings, includingConflicts: includingConflicts)
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
            return ExportInput(dataset: dataset, holders: holders, schedules: schedules, resolutions: resolutions,
                               skewedOperations: Set(skewed), asOf: asOf, logs: logs,
                               heldFiles: includingFindings ? heldFiles(of: dataset.findings) : nil)
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

extension HubStore {
    /// A mark that changes whenever what the office sees changes: a new op (a sync, a bundle, a
    /// decision), a schedule, a unit, a device's sync, enrollment or revocation, an audit entry, a
    /// file that became whole (the attachments folder's modification time). Cheap (a handful of
    /// lookups on primary keys and the small hub tables, one `stat`), so a dashboard can poll it
    /// twice a second.
    public func changeMark() async throws -> String {
        let folder = attachmentFiles.directory
        let files = (try? FileManager.default.attributesOfItem(atPath: folder)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return try await replica.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT (SELECT ifnull(max(position), 0) FROM ops),
                       (SELECT count(*) || ':' || ifnull(group_concat(unit || '=' || arrival), '') FROM schedules),
                       (SELECT count(*) || ':' || ifnull(sum(last_sync), 0) || ':' || ifnull(sum(revoked), 0) || ':' || ifnull(sum(confirmed), 0)
                               || ':' || ifnull(sum(length(device_key)), 0) || ':' || ifnull(group_concat(token_hash), '') FROM devices),
                       (SELECT ifnull(max(id), 0) FROM audit),
                       (SELECT count(*) || ':' || ifnull(group_concat(id || name || kind || ifnull(parent, '')), '') FROM units)
                """)!
            let ops: Int64 = row[0]
            let schedules: String = row[1]
            let devices: String = row[2]
            let audit: Int64 = row[3]
            let units: String = row[4]
            let digest = SHA256.hash(data: Data([schedules, devices, units, String(files)].joined(separator: "|").utf8))
            return "\(ops).\(audit).\(digest.prefix(6).map { String(format: "%02x", $0) }.joined())"
        }
    }
}

import Foundation
import GRDB
import InspectorCore

extension ReplicaStore {
    /// The number of operations in the log.
    public func operationCount() throws -> Int {
        try Self.wrap { try writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ops") ?? 0 } }
    }

    /// The highest sequence number of `device` in the log (0 when none).
    public func lastSequence(of device: String) throws -> Int64 {
        try Self.wrap {
            try writer.read { db in
                try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM ops WHERE device = (SELECT id FROM names WHERE name = ?)", arguments: [device]) ?? 0
            }
        }
    }

    /// The highest sequence number of `device` in the log, like ``lastSequence(of:)``, without
    /// blocking the calling thread.
    public func lastSequence(of device: String) async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM ops WHERE device = (SELECT id FROM names WHERE name = ?)", arguments: [device]) ?? 0
        }
    }

    /// Operations of the log in the order this replica received them.
    ///
    /// - Parameters:
    ///   - position: return only operations after this log position (0 for all).
    ///   - limit: at most this many.
    ///   - device: only this device's operations, when given.
    ///   - afterSequence: with `device`, only its operations with a greater sequence number.
    ///   - includingSetAside: whether to include this device's set-aside operations (the log shows
    ///     them; a bundle never carries them).
    /// - Returns: the operations with their log positions.
    public func operations(after position: Int64 = 0, limit: Int = .max, device: String? = nil,
                           afterSequence: Int64 = 0, includingSetAside: Bool = true) throws -> [(position: Int64, operation: Op)] {
        let setAside = includingSetAside ? "" : "AND set_aside = 0"
        return try Self.wrap {
            try writer.read { db in
                let rows: [Row]
                if let device {
                    rows = try Row.fetchAll(db, sql: """
                        SELECT position, \(Op.selectColumns) FROM op_rows
                        WHERE device_id = (SELECT id FROM names WHERE name = ?) AND seq > ? AND position > ? \(setAside) ORDER BY seq LIMIT ?
                        """, arguments: [device, afterSequence, position, limit])
                } else {
                    rows = try Row.fetchAll(db, sql: """
                        SELECT position, \(Op.selectColumns) FROM op_rows WHERE position > ? \(setAside) ORDER BY position LIMIT ?
                        """, arguments: [position, limit])
                }
                return rows.map { row in
                    (row[0], Op(row: row, offset: 1))
                }
            }
        }
    }

    /// This device's operations after `afterSequence`, in order, at most `limit`; without blocking
    /// the calling thread.
    public func ownOperations(afterSequence: Int64, limit: Int) async throws -> [Op] {
        let device = self.device
        do {
            return try await writer.read { db in
                try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT \(Op.selectColumns) FROM op_rows WHERE device_id = (SELECT id FROM names WHERE name = ?) AND seq > ? AND set_aside = 0 ORDER BY seq LIMIT ?
                    """), arguments: [device, afterSequence, limit]).map { Op(row: $0) }
            }
        } catch let error as DatabaseError {
            throw StoreError(.storageFailed, "the database could not be read (\(error.resultCode))")
        }
    }

    /// The value of a metadata key.
    func meta(_ key: MetaKey) throws -> String? {
        try Self.wrap { try writer.read { db in try Self.meta(db, key) } }
    }

    /// Writes metadata keys in one transaction; a nil value removes the key.
    func setMeta(_ values: [MetaKey: String?]) throws {
        try Self.wrap {
            try writer.write { db in
                for (key, value) in values { try Self.setMeta(db, key, value) }
            }
        }
    }

    /// The units this device may write and read, or nil before the hub has said.
    public func scope() throws -> Set<String>? {
        guard let text = try meta(.scope) else { return nil }
        let ids = (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
        return Set(ids)
    }

    /// The merged dataset, optionally limited to some units.
    ///
    /// - Parameter unitIDs: the units to include (values, findings and conflicts of other units are
    ///   left out, and so are the units themselves); nil for all.
    public func dataset(unitIDs: Set<String>? = nil) throws -> Dataset {
        try Self.wrap { try writer.read { db in try dataset(db, unitIDs: unitIDs) } }
    }

    /// The merged dataset read inside an open transaction, so that callers can read more in the same snapshot.
    ///
    /// - Parameters:
    ///   - includingFindings: false leaves ``Dataset/findings`` empty (a reader that lists findings
    ///     a page at a time reads ``findingEntries(_:)`` and ``findings(_:ids:)`` instead).
    ///   - includingConflicts: false leaves ``Dataset/conflicts`` empty (a reader that lists the
    ///     ledger a page at a time reads ``conflictEntries(_:)`` and ``conflicts(_:of:)`` instead).
    public func dataset(_ db: Database, unitIDs: Set<String>? = nil, includingFindings: Bool = true,
                        includingConflicts: Bool = true) throws -> Dataset {
        let plan = self.plan
        return try {
                let units = try Self.loadUnits(db).filter { unitIDs?.contains($0.id) ?? true }
                let included = { (unit: String) in unitIDs?.contains(unit) ?? true }
                let values = try Self.values(db).filter { included($0.unit) }
                var findings: [Dataset.Finding] = []
                if includingFindings {
                    var retractions: [String: Dataset.Version] = [:]
                    for row in try Row.fetchAll(db, sql: "SELECT * FROM retraction_rows") {
                        retractions[row["finding"]] = Self.retraction(row)
                    }
                    var attachments: [String: [Dataset.Attachment]] = [:]
                    for row in try Row.fetchAll(db, sql: "\(Self.attachmentRowsSQL) WHERE o.kind = 3 AND o.set_aside = 0") {
                        guard let attachment = Self.attachment(row) else { continue }
                        attachments[row["finding"], default: []].append(attachment)
                    }
                    for row in try Row.fetchAll(db, sql: "SELECT * FROM finding_rows") where included(row["unit"]) {
                        let id: String = row["id"]
                        findings.append(Self.finding(row, retraction: retractions[id], attachments: attachments[id] ?? []))
                    }
                }
                let conflicts = includingConflicts ? try Self.conflicts(db, of: Self.conflictEntries(db, values: values)) : []
                return Dataset(plan: plan, units: units, values: values, findings: findings, conflicts: conflicts)
        }()
    }

    /// Every field's value in use, in no order.
    static func values(_ db: Database) throws -> [Dataset.Value] {
        try Row.fetchAll(db, sql: "SELECT * FROM field_value_rows").map { row in
            Dataset.Value(unit: row["unit"], item: row["item"], field: row["field"], current: Self.version(row))
        }
    }

    /// Runs `PRAGMA integrity_check` and returns its verdict (`ok` when sound).
    public func integrityCheck() throws -> String {
        try Self.wrap {
            try writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
        }
    }
}

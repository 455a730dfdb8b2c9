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
    /// - Parameter includingFindings: false leaves ``Dataset/findings`` empty (a reader that lists
    ///   findings a page at a time reads ``findingEntries(_:)`` and ``findings(_:ids:)`` instead).
    public func dataset(_ db: Database, unitIDs: Set<String>? = nil, includingFindings: Bool = true) throws -> Dataset {
        let plan = self.plan
        return try {
                let units = try Self.loadUnits(db).filter { unitIDs?.contains($0.id) ?? true }
                let included = { (unit: String) in unitIDs?.contains(unit) ?? true }
                var values: [Dataset.Value] = []
                for row in try Row.fetchAll(db, sql: "SELECT * FROM field_value_rows") where included(row["unit"]) {
                    values.append(Dataset.Value(unit: row["unit"], item: row["item"], field: row["field"], current: Self.version(row)))
                }
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
                let conflicts = try Self.conflicts(db, values: values)
                return Dataset(plan: plan, units: units, values: values, findings: findings, conflicts: conflicts)
        }()
    }

    /// Fields set by more than one device: the winner and each other device's latest value.
    ///
    /// Both queries read the covering index `ops_by_field` (unit, item, field, device, hlc,
    /// set_aside, kind) for the fields' devices; only each other device's latest op not set aside
    /// is read from the table, one seek per device (`ORDER BY hlc DESC LIMIT 1`, set-aside ops
    /// skipped in the index). A field whose other devices' ops are all set aside has no losers and
    /// is no conflict.
    static func conflicts(_ db: Database, values: [Dataset.Value]) throws -> [Dataset.Conflict] {
        let contested = try Row.fetchAll(db, sql: """
            SELECT u.name AS unit, i.name AS item, f.name AS field, c.unit AS unit_id, c.item AS item_id, c.field AS field_id
            FROM (SELECT unit, item, field FROM ops INDEXED BY ops_by_field WHERE kind = 0
                  GROUP BY unit, item, field HAVING COUNT(DISTINCT device) > 1) AS c
            JOIN names AS u ON u.id = c.unit JOIN names AS i ON i.id = c.item JOIN names AS f ON f.id = c.field
            """)
        let winners = Dictionary(values.map { ([$0.unit, $0.item, $0.field], $0.current) }, uniquingKeysWith: { a, _ in a })
        let latest = try db.cachedStatement(sql: """
            SELECT d.name AS device, o.seq AS seq, o.hlc AS hlc, o.value AS value
            FROM (SELECT DISTINCT device FROM ops INDEXED BY ops_by_field
                  WHERE kind = 0 AND unit = ?1 AND item = ?2 AND field = ?3 AND device != ifnull((SELECT id FROM names WHERE name = ?4), -1)) AS g
            JOIN ops AS o ON o.position = (SELECT position FROM ops INDEXED BY ops_by_field
                                           WHERE kind = 0 AND unit = ?1 AND item = ?2 AND field = ?3 AND device = g.device AND set_aside = 0
                                           ORDER BY hlc DESC LIMIT 1)
            JOIN names AS d ON d.id = g.device
            """)
        var result: [Dataset.Conflict] = []
        for row in contested {
            let key: [String] = [row["unit"], row["item"], row["field"]]
            guard let winner = winners[key] else { continue }
            let unitID: Int64 = row["unit_id"], itemID: Int64 = row["item_id"], fieldID: Int64 = row["field_id"]
            var losers: [Dataset.Version] = []
            for version in try Row.fetchAll(latest, arguments: [unitID, itemID, fieldID, winner.device]) {
                let device: String = version["device"]
                losers.append(Dataset.Version(value: version["value"], device: device, sequence: version["seq"],
                                              timestamp: HLCTimestamp(packed: version["hlc"], device: device)))
            }
            guard !losers.isEmpty else { continue }
            result.append(Dataset.Conflict(unit: key[0], item: key[1], field: key[2], winner: winner, losers: losers))
        }
        return result
    }

    /// Runs `PRAGMA integrity_check` and returns its verdict (`ok` when sound).
    public func integrityCheck() throws -> String {
        try Self.wrap {
            try writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
        }
    }
}

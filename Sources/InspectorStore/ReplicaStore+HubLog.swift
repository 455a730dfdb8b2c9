import GRDB
import InspectorCore

// The queries of the operation log that only the hub needs: what it sends a device, its log's end,
// and which operations a range of positions holds. The hub's component (InspectorHub) owns its own
// tables in the same file; it reads the log through these, never with its own SQL.

extension ReplicaStore {
    /// A slice of the log for one device's pull.
    package struct LogBatch: Sendable {
        /// The operations, in log order.
        package var ops: [Op]
        /// The last log position examined: the next pull starts after it.
        package var cursor: Int64
        /// Whether the log holds more for this device after `cursor`.
        package var more: Bool
    }

    /// The condition that leaves out a `set` op superseded by a later `set` op of the same author on
    /// the same field (a compact pull, PROTOCOL.md 11.6): the merged state and the conflict ledger
    /// read only each author's latest value of a field, so the state is the same without it. The
    /// probe is answered by the index `ops_by_field` alone (`set_aside` and `kind` are in it).
    ///
    /// - Parameter row: the log row's columns, as `ops` names them or as the view `op_rows` does.
    static func notSuperseded(_ row: LogColumns) -> String {
        """
        NOT (\(row.kind) = 0 AND EXISTS (
            SELECT 1 FROM ops AS later INDEXED BY ops_by_field
            WHERE later.kind = 0 AND later.unit = \(row.unit) AND later.item = \(row.item) AND later.field = \(row.field)
              AND later.device = \(row.device) AND later.hlc > \(row.hlc)
              AND later.set_aside = 0))
        """
    }

    /// The integer columns of a log row, in the table or in the view.
    struct LogColumns {
        var position, kind, unit, item, field, device, hlc: String
        static let table = LogColumns(position: "ops.position", kind: "ops.kind", unit: "ops.unit", item: "ops.item", field: "ops.field",
                                      device: "ops.device", hlc: "ops.hlc")
        static let view = LogColumns(position: "op_rows.position", kind: "op_rows.kind_code", unit: "op_rows.unit_id", item: "op_rows.item_id",
                                     field: "op_rows.field_id", device: "op_rows.device_id", hlc: "op_rows.hlc")
    }

    /// The condition on a log row's integer columns for a device's pull: after the cursor (?1), not
    /// the device's own (?2, its name), in one of the units (the names from ?3 on). Written on the
    /// integers, so that rows it leaves out are never joined with their names.
    static func pullCondition(_ row: LogColumns, units: Int, compact: Bool) -> String {
        let placeholders = (0..<units).map { "?\($0 + 3)" }.joined(separator: ",")
        return """
            \(row.position) > ?1
            AND \(row.device) IS NOT (SELECT id FROM names WHERE name = ?2)
            AND \(row.unit) IN (SELECT id FROM names WHERE name IN (\(placeholders)))\(compact ? " AND " + notSuperseded(row) : "")
            """
    }

    /// The next operations for a device: after `cursor`, of `units`, not `excludedDevice`'s own, at most
    /// `limit` of them and at most `byteBudget` by `size` (at least one; the hub measures wire bytes);
    /// when `compact`, without the `set` ops a later one of the same author on the same field supersedes.
    ///
    /// The returned cursor is the last position examined, so a later pull never scans the same
    /// history again; when nothing is left it is the log's end.
    package func logBatch(after cursor: Int64, limit: Int, units: [String], excluding excludedDevice: String, compact: Bool = false,
                          byteBudget: Int, size: @escaping @Sendable (Op) -> Int) async throws -> LogBatch {
        let units = units.sorted()
        // At least one op per batch: a batch of none would say nothing of what lies after the cursor.
        let limit = max(limit, 1)
        return try await read { db in
            let sql = """
                SELECT position, \(Op.selectColumns) FROM op_rows
                WHERE \(Self.pullCondition(.view, units: units.count, compact: compact))
                ORDER BY position LIMIT ?\(units.count + 3)
                """
            // Rows read through SQLite's C API (a pull reads up to `limit` of them per batch).
            let statement = try BoundStatement(db, sql: sql)
            var ops: [Op] = []
            var last: Int64 = cursor
            var read = 0, bytes = 0
            var cut = false
            try statement.forEachRow({ bind in
                bind(1, cursor)
                bind(2, excludedDevice)
                for (index, unit) in units.enumerated() { bind(Int32(3 + index), unit) }
                bind(Int32(3 + units.count), Int64(limit))
            }, { row in
                let op = Op(columns: row, offset: 1)
                bytes += size(op)
                if !ops.isEmpty && bytes > byteBudget {
                    // Stop before the line would grow too long; the cursor is the last op sent.
                    cut = true
                    return false
                }
                ops.append(op)
                last = row.int64(0)
                read += 1
                return true
            })
            if cut || read == limit {
                return LogBatch(ops: ops, cursor: last, more: true)
            }
            return LogBatch(ops: ops, cursor: max(try Self.logEnd(db), cursor), more: false)
        }
    }

    /// How many operations of `units`, not `excludedDevice`'s own, the log holds after `cursor`
    /// (when `compact`, leaving out those a compact pull leaves out).
    package func logCount(after cursor: Int64, units: [String], excluding excludedDevice: String, compact: Bool = false) async throws -> Int {
        try await read { db in
            var arguments: [any DatabaseValueConvertible] = [cursor, excludedDevice]
            arguments.append(contentsOf: units)
            let sql = compact ? Self.compactCountSQL(units: units.count)
                : "SELECT COUNT(*) FROM ops WHERE \(Self.pullCondition(.table, units: units.count, compact: false))"
            return try Int.fetchOne(db, sql: sql, arguments: StatementArguments(arguments)) ?? 0
        }
    }

    /// The count of a compact pull, with `pullCondition`'s parameters: the ops other than `set`,
    /// counted on the table, plus the `set` ops not superseded, counted field by field on the index
    /// `ops_by_field` alone. Within one author's ops on one field (an index range), an op is
    /// superseded exactly when its clock is below the greatest clock of the range's ops not set
    /// aside (`top`; none: nothing is superseded), so each range costs one pass to find `top` and
    /// one seek to count the ops at or above it after the cursor. The same count op by op
    /// (`notSuperseded`) reads every op's table row and seeks the index once per `set` op: 1.5 s at
    /// 10⁶ ops against 0.4 s (docs/performance.md). `top` looks at the whole log, as
    /// `notSuperseded` does: a later op before the cursor supersedes too.
    static func compactCountSQL(units: Int) -> String {
        let placeholders = (0..<units).map { "?\($0 + 3)" }.joined(separator: ",")
        let device = "device IS NOT (SELECT id FROM names WHERE name = ?2)"
        let unit = "unit IN (SELECT id FROM names WHERE name IN (\(placeholders)))"
        return """
            SELECT (SELECT COUNT(*) FROM ops WHERE kind != 0 AND position > ?1 AND \(device) AND \(unit))
                 + (SELECT ifnull(SUM((SELECT COUNT(*) FROM ops AS x INDEXED BY ops_by_field
                                       WHERE x.kind = 0 AND x.unit = g.unit AND x.item = g.item AND x.field = g.field
                                         AND x.device = g.device AND x.hlc >= g.top AND x.position > ?1)), 0)
                    FROM (SELECT unit, item, field, device,
                                 ifnull(MAX(CASE WHEN set_aside = 0 THEN hlc END), -9223372036854775807 - 1) AS top
                          FROM ops INDEXED BY ops_by_field WHERE kind = 0 AND \(device) AND \(unit)
                          GROUP BY unit, item, field, device) AS g)
            """
    }

    /// The log's last position (0 when empty), read inside an open transaction.
    package static func logEnd(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(position) FROM ops")) ?? 0
    }

    /// The sequence numbers of `device`'s operations after `sequence`, ascending, read inside an open transaction.
    package static func sequences(_ db: Database, of device: String, after sequence: Int64) throws -> [Int64] {
        try Int64.fetchAll(db.cachedStatement(sql: "SELECT seq FROM ops WHERE device = (SELECT id FROM names WHERE name = ?) AND seq > ? ORDER BY seq"),
                           arguments: [device, sequence])
    }

    /// The identities (`device#seq`) of the operations at these log positions, read inside an open transaction.
    package static func operationIdentities(_ db: Database, positions: ClosedRange<Int64>) throws -> [String] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT device, seq FROM op_rows WHERE position BETWEEN ? AND ? ORDER BY position"),
                         arguments: [positions.lowerBound, positions.upperBound]).map { row in
            let device: String = row[0]
            let sequence: Int64 = row[1]
            return "\(device)#\(sequence)"
        }
    }
}

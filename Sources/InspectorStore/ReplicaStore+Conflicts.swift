import GRDB
import InspectorCore

// The conflict ledger, whole or a page at a time. A reader that lists it (the hub's dashboard)
// keeps each conflicted field's entry — the value in use and how many other values there are — and
// reads the conflicts it shows whole, instead of holding every other device's latest value of every
// field: at 10⁶ ops the ledger holds about 143,000 such versions (docs/performance.md).

extension ReplicaStore {
    /// A conflicted field as a list counts and orders it: the field, the value in use, and how
    /// many other devices hold a latest value of it; not those values (``conflicts(of:)`` reads
    /// them).
    public struct ConflictEntry: Hashable, Sendable {
        public var unit: String
        public var item: String
        public var field: String
        /// The value in use (``Dataset/Conflict/winner``).
        public var winner: Dataset.Version
        /// How many other devices' latest values the conflict holds (the count of
        /// ``Dataset/Conflict/losers``); at least 1.
        public var loserCount: Int

        public init(unit: String, item: String, field: String, winner: Dataset.Version, loserCount: Int) {
            self.unit = unit
            self.item = item
            self.field = field
            self.winner = winner
            self.loserCount = loserCount
        }
    }

    /// Every conflicted field's entry, in the order of ``Dataset/conflicts``, read inside an open
    /// transaction.
    public func conflictEntries(_ db: Database) throws -> [ConflictEntry] {
        Dataset.sortedByField(try Self.conflictEntries(db, values: Self.values(db)), units: try Self.loadUnits(db), plan: plan) {
            ($0.unit, $0.item, $0.field)
        }
    }

    /// Every conflicted field's entry, like ``conflictEntries(_:)``, without blocking the calling
    /// thread.
    public func conflictEntries() async throws -> [ConflictEntry] {
        try await read { db in try self.conflictEntries(db) }
    }

    /// The conflicts of these entries' fields, whole, as ``Dataset/conflicts`` holds them now (the
    /// value in use read again, every other device's latest value newest first), in the order of
    /// `entries`; a field that is no longer conflicted is left out. Read inside an open transaction.
    public static func conflicts(_ db: Database, of entries: [ConflictEntry]) throws -> [Dataset.Conflict] {
        let winner = try db.cachedStatement(sql: """
            SELECT v.unit AS unit_id, v.item AS item_id, v.field AS field_id, v.device AS device_id, d.name AS device,
                   v.seq AS seq, v.hlc AS hlc, v.value AS value
            FROM field_values AS v JOIN names AS d ON d.id = v.device
            WHERE v.unit = (SELECT id FROM names WHERE name = ?1) AND v.item = (SELECT id FROM names WHERE name = ?2)
              AND v.field = (SELECT id FROM names WHERE name = ?3)
            """)
        // Each other device's latest op not set aside: the devices from the covering index
        // `ops_by_field`, then one seek per device (`ORDER BY hlc DESC LIMIT 1`, set-aside ops
        // skipped in the index). A device whose ops on the field are all set aside holds no value.
        let latest = try db.cachedStatement(sql: """
            SELECT d.name AS device, o.seq AS seq, o.hlc AS hlc, o.value AS value
            FROM (SELECT DISTINCT device FROM ops INDEXED BY ops_by_field
                  WHERE kind = 0 AND unit = ?1 AND item = ?2 AND field = ?3 AND device != ?4) AS g
            JOIN ops AS o ON o.position = (SELECT position FROM ops INDEXED BY ops_by_field
                                           WHERE kind = 0 AND unit = ?1 AND item = ?2 AND field = ?3 AND device = g.device AND set_aside = 0
                                           ORDER BY hlc DESC LIMIT 1)
            JOIN names AS d ON d.id = g.device
            """)
        func version(_ row: Row) -> Dataset.Version {
            let device: String = row["device"]
            return Dataset.Version(value: row["value"], device: device, sequence: row["seq"], timestamp: HLCTimestamp(packed: row["hlc"], device: device))
        }
        var result: [Dataset.Conflict] = []
        for entry in entries {
            guard let current = try Row.fetchOne(winner, arguments: [entry.unit, entry.item, entry.field]) else { continue }
            let unit: Int64 = current["unit_id"], item: Int64 = current["item_id"], field: Int64 = current["field_id"], device: Int64 = current["device_id"]
            let losers = try Row.fetchAll(latest, arguments: [unit, item, field, device]).map(version)
            guard !losers.isEmpty else { continue }
            result.append(Dataset.Conflict(unit: entry.unit, item: entry.item, field: entry.field, winner: version(current),
                                           losers: losers.sorted { $0.timestamp > $1.timestamp }))
        }
        return result
    }

    /// The conflicts of these entries' fields, like ``conflicts(_:of:)``, without blocking the
    /// calling thread.
    public func conflicts(of entries: [ConflictEntry]) async throws -> [Dataset.Conflict] {
        try await read { db in try Self.conflicts(db, of: entries) }
    }

    /// The entries of the fields of `values` that more than one device set, in no order: for
    /// each, the number of devices other than the winner's with an op on it not set aside (each
    /// such device's latest value is a loser). Read on the covering index `ops_by_field`.
    static func conflictEntries(_ db: Database, values: [Dataset.Value]) throws -> [ConflictEntry] {
        struct Field: Hashable {
            var unit: String, item: String, field: String
        }
        let winners = Dictionary(values.map { (Field(unit: $0.unit, item: $0.item, field: $0.field), $0.current) }, uniquingKeysWith: { a, _ in a })
        let rows = try Row.fetchCursor(db, sql: """
            SELECT u.name AS unit, i.name AS item, f.name AS field, c.others AS others
            FROM (SELECT g.unit AS unit, g.item AS item, g.field AS field, COUNT(*) AS others
                  FROM (SELECT DISTINCT unit, item, field, device FROM ops INDEXED BY ops_by_field WHERE kind = 0 AND set_aside = 0) AS g
                  JOIN field_values AS v ON v.unit = g.unit AND v.item = g.item AND v.field = g.field
                  WHERE g.device != v.device
                  GROUP BY g.unit, g.item, g.field) AS c
            JOIN names AS u ON u.id = c.unit JOIN names AS i ON i.id = c.item JOIN names AS f ON f.id = c.field
            """)
        var entries: [ConflictEntry] = []
        while let row = try rows.next() {
            let field = Field(unit: row["unit"], item: row["item"], field: row["field"])
            guard let winner = winners[field] else { continue }
            entries.append(ConflictEntry(unit: field.unit, item: field.item, field: field.field, winner: winner, loserCount: row["others"]))
        }
        return entries
    }
}

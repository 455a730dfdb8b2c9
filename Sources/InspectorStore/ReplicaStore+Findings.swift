import GRDB
import InspectorCore

// Findings a page at a time: a reader that lists them (the hub's dashboard) keeps each finding's
// entry, 24 bytes, and reads the findings it shows by id, instead of holding every finding's
// text, retraction and files. At 10⁶ ops (200,000 findings) the whole dataset held
// 265 MB resident in the dashboard's hub, 180 MB of it findings (docs/performance.md).

extension ReplicaStore {
    /// A finding as a list finds, counts and orders it: where it is, of which kind, by whom, and
    /// whether it was retracted; not its text, its retraction or its files. Its id is made from its
    /// author and sequence number (PROTOCOL.md 6.2).
    public struct FindingEntry: Hashable, Sendable {
        public var unit: String
        public var item: String?
        public var kind: FindingKind
        public var device: String
        /// The sequence number of the `finding_add`.
        public var sequence: Int64
        public var isRetracted: Bool
        /// The id, when it is not `device/sequence` (no valid op makes one).
        private var otherID: String?

        public init(id: String, unit: String, item: String?, kind: FindingKind, device: String, sequence: Int64, isRetracted: Bool) {
            self.init(unit: unit, item: item, kind: kind, device: device, sequence: sequence, isRetracted: isRetracted,
                      otherID: id == Op.findingID(device: device, sequence: sequence) ? nil : id)
        }

        fileprivate init(unit: String, item: String?, kind: FindingKind, device: String, sequence: Int64, isRetracted: Bool, otherID: String?) {
            self.unit = unit
            self.item = item
            self.kind = kind
            self.device = device
            self.sequence = sequence
            self.isRetracted = isRetracted
            self.otherID = otherID
        }

        /// The finding's id.
        public var id: String { otherID ?? Op.findingID(device: device, sequence: sequence) }
    }

    /// Every finding's entry, in the order of ``Dataset/findings``, held in 24 bytes each: unit,
    /// item and author are indexes into one table of names (a 200,000-finding list takes about
    /// 5 MB, not the 18 MB of as many ``FindingEntry`` values). Reading one makes its entry.
    public struct FindingEntries: RandomAccessCollection, Sendable {
        fileprivate struct Packed: Sendable {
            var sequence: Int64
            var device: UInt32
            var unit: UInt32
            /// The item's index plus one; 0 for none.
            var item: UInt32
            var kind: FindingKind
            var isRetracted: Bool
        }

        private var names: [String]
        private var packed: [Packed]
        /// Ids that are not `device/sequence`, by position.
        private var otherIDs: [Int: String]

        fileprivate init(names: [String], packed: [Packed], otherIDs: [Int: String]) {
            self.names = names
            self.packed = packed
            self.otherIDs = otherIDs
        }

        public var startIndex: Int { 0 }
        public var endIndex: Int { packed.count }

        public subscript(position: Int) -> FindingEntry {
            let entry = packed[position]
            return FindingEntry(unit: names[Int(entry.unit)], item: entry.item == 0 ? nil : names[Int(entry.item) - 1], kind: entry.kind,
                                device: names[Int(entry.device)], sequence: entry.sequence, isRetracted: entry.isRetracted,
                                otherID: otherIDs.isEmpty ? nil : otherIDs[position])
        }
    }

    /// Every finding's entry, in the order of ``Dataset/findings`` (time, then id), read inside an
    /// open transaction.
    public static func findingEntries(_ db: Database) throws -> FindingEntries {
        var names: [String] = []
        var indexes: [String: UInt32] = [:]
        func index(_ name: String) -> UInt32 {
            if let index = indexes[name] { return index }
            let index = UInt32(truncatingIfNeeded: names.count)
            names.append(name)
            indexes[name] = index
            return index
        }
        var keyed: [(hlc: Int64, entry: FindingEntries.Packed, otherID: String?)] = []
        keyed.reserveCapacity(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM findings") ?? 0)
        let rows = try Row.fetchCursor(db, sql: """
            SELECT x.id, u.name, i.name, x.kind, d.name, x.seq, x.hlc, r.finding IS NOT NULL
            FROM findings AS x JOIN names AS u ON u.id = x.unit LEFT JOIN names AS i ON i.id = x.item
            JOIN names AS d ON d.id = x.device LEFT JOIN retractions AS r ON r.finding = x.id
            """)
        while let row = try rows.next() {
            let device: String = row[4], sequence: Int64 = row[5]
            let id: String = row[0]
            let item: String? = row[2]
            let entry = FindingEntries.Packed(sequence: sequence, device: index(device), unit: index(row[1]), item: item.map { index($0) + 1 } ?? 0,
                                              kind: FindingKind(rawValue: row[3]) ?? .observation, isRetracted: row[7])
            keyed.append((row[6], entry, id == Op.findingID(device: device, sequence: sequence) ? nil : id))
        }
        // Dataset.precedes on the packed clock (it orders as millis, then counter), then the
        // author's name as HLCTimestamp orders it (UTF-8 bytes), then the id.
        keyed.sort { a, b in
            if a.hlc != b.hlc { return a.hlc < b.hlc }
            if a.entry.device != b.entry.device {
                return names[Int(a.entry.device)].utf8.lexicographicallyPrecedes(names[Int(b.entry.device)].utf8)
            }
            return (a.otherID ?? Op.findingID(device: names[Int(a.entry.device)], sequence: a.entry.sequence))
                < (b.otherID ?? Op.findingID(device: names[Int(b.entry.device)], sequence: b.entry.sequence))
        }
        var otherIDs: [Int: String] = [:]
        for (position, entry) in keyed.enumerated() { if let id = entry.otherID { otherIDs[position] = id } }
        return FindingEntries(names: names, packed: keyed.map(\.entry), otherIDs: otherIDs)
    }

    /// Every finding's entry, like ``findingEntries(_:)``, without blocking the calling thread.
    public func findingEntries() async throws -> FindingEntries {
        try await read { db in try Self.findingEntries(db) }
    }

    /// The findings with these ids, whole (text, retraction, files) as ``Dataset/findings`` holds
    /// them, in the order of `ids`; an id the replica does not hold is left out. Read inside an
    /// open transaction.
    public static func findings(_ db: Database, ids: [String]) throws -> [Dataset.Finding] {
        let finding = try db.cachedStatement(sql: "SELECT * FROM finding_rows WHERE id = ?")
        let retraction = try db.cachedStatement(sql: "SELECT * FROM retraction_rows WHERE finding = ?")
        let attachments = try db.cachedStatement(sql: "\(attachmentRowsSQL) WHERE o.kind = 3 AND o.set_aside = 0 AND o.finding = ?")
        return try ids.compactMap { id in
            guard let row = try Row.fetchOne(finding, arguments: [id]) else { return nil }
            return Self.finding(row, retraction: try Row.fetchOne(retraction, arguments: [id]).map(Self.retraction),
                                attachments: Dataset.ordered(try Row.fetchAll(attachments, arguments: [id]).compactMap(Self.attachment)))
        }
    }

    /// The findings with these ids, like ``findings(_:ids:)``, without blocking the calling thread.
    public func findings(ids: [String]) async throws -> [Dataset.Finding] {
        try await read { db in try Self.findings(db, ids: ids) }
    }

    // MARK: - Rows

    /// A row of `field_value_rows` or `retraction_rows` (its text in `value`) as a version.
    static func version(_ row: Row, value: String = "value") -> Dataset.Version {
        let device: String = row["device"]
        return Dataset.Version(value: row[value], device: device, sequence: row["seq"],
                               timestamp: HLCTimestamp(millis: row["ms"], counter: row["counter"], device: device))
    }

    /// A row of `retraction_rows` as the version a finding shows.
    static func retraction(_ row: Row) -> Dataset.Version { version(row, value: "reason") }

    /// The `attachment_add` ops with their author's name, through `ops_attachments` (in log order
    /// for one finding); the caller adds the WHERE clause.
    static let attachmentRowsSQL = """
        SELECT o.finding AS finding, d.name AS device, o.seq AS seq, o.hlc AS hlc, o.value AS value
        FROM ops AS o INDEXED BY ops_attachments JOIN names AS d ON d.id = o.device
        """

    /// A row of `attachmentRowsSQL` as an attachment; nil when its descriptor does not read.
    static func attachment(_ row: Row) -> Dataset.Attachment? {
        guard let descriptor = try? AttachmentDescriptor(parsing: row["value"]) else { return nil }
        let device: String = row["device"]
        return Dataset.Attachment(descriptor: descriptor, device: device, sequence: row["seq"], timestamp: HLCTimestamp(packed: row["hlc"], device: device))
    }

    /// A row of `finding_rows` as a finding.
    static func finding(_ row: Row, retraction: Dataset.Version?, attachments: [Dataset.Attachment]) -> Dataset.Finding {
        let device: String = row["device"]
        return Dataset.Finding(id: row["id"], unit: row["unit"], item: row["item"], kind: FindingKind(rawValue: row["kind"]) ?? .observation,
                               text: row["text"], device: device, timestamp: HLCTimestamp(millis: row["ms"], counter: row["counter"], device: device),
                               retraction: retraction, attachments: attachments)
    }
}

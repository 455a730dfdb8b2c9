import GRDB
import InspectorCore

extension Op {
    /// Appends an op to the `ops` table (``ReplicaStore/insert(_:into:using:)`` binds its 11 parameters).
    static let insertSQL = """
        INSERT INTO ops (device, seq, ms, counter, kind, unit, item, field, finding, finding_kind, value)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING
        """

    /// The columns to select from `ops` for ``init(row:offset:)``.
    public static let selectColumns = "device, seq, ms, counter, kind, unit, item, field, finding, finding_kind, value"

    /// Reads an operation from the columns of a ``BoundStatement`` row with ``selectColumns`` at `o`.
    init(columns row: BoundStatement.Columns, offset o: Int32 = 0) {
        let device = row.string(o) ?? ""
        self.init(device: device, sequence: row.int64(o + 1),
                  timestamp: HLCTimestamp(millis: row.int64(o + 2), counter: row.int64(o + 3), device: device),
                  kind: (row.string(o + 4)).flatMap(Op.Kind.init(rawValue:)) ?? .set, unit: row.string(o + 5) ?? "",
                  item: row.string(o + 6), field: row.string(o + 7), finding: row.string(o + 8),
                  findingKind: row.string(o + 9).flatMap(FindingKind.init(rawValue:)), value: row.string(o + 10) ?? "")
    }

    /// Reads an operation from a row with ``selectColumns``.
    public init(row: Row, offset o: Int = 0) {
        let device: String = row[o]
        self.init(device: device, sequence: row[o + 1],
                  timestamp: HLCTimestamp(millis: row[o + 2], counter: row[o + 3], device: device),
                  kind: Op.Kind(rawValue: row[o + 4]) ?? .set, unit: row[o + 5], item: row[o + 6], field: row[o + 7],
                  finding: row[o + 8], findingKind: (row[o + 9] as String?).flatMap(FindingKind.init(rawValue:)),
                  value: row[o + 10])
    }
}

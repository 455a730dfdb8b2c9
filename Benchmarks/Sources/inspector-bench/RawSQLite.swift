import GRDBSQLite
import InspectorCore

/// The ceiling: the fastest implementation of the merge's semantics we could write on the SQLite C
/// API, to tell how far the store is from what SQLite itself allows on this machine.
///
/// The semantics are the store's:
/// - an append-only log of ops, each held exactly once per (device, sequence): an op already held
///   is skipped, a different op under a held identity stops the run;
/// - last writer wins per (unit, item, field) by hybrid logical clock: the greater (ms, counter),
///   then the greater device id in byte order;
/// - findings are append-only; a finding's retraction is the one with the greatest timestamp.
///
/// The schema is chosen for speed, not copied from the store:
/// - device, unit, item and field ids are interned as small integers (tables `devices`, `units`,
///   `items`, `fields`, cached in dictionaries), on first sight, in the measured transaction;
/// - the log `ops` has its identity `device << 40 | sequence` as its rowid, so exactly-once costs no
///   second index and one device's ops are adjacent. What a peer lacks is then a range of each
///   device's sequence numbers instead of one log position: a hub receives each device's ops in
///   sequence order (pushes are all or nothing, in order), so nothing is lost by it;
/// - the clock is packed into one integer, `ms << 16 | counter` with the sign bit flipped, so that
///   SQLite's signed order is the clock's order over all of ``HLCTimestamp/validMillis``;
/// - `field_values` is keyed by `unit << 40 | item << 20 | field` and holds the winner's clock and
///   identity (its value is read from the log); `retractions` is keyed by the finding's identity the
///   same way; the device tie-break reads the held winner's name only when the clocks are equal;
/// - findings are the log's `finding_add` rows, listed per unit and item by a partial index;
/// - statements are prepared once; integers are bound directly and texts without a copy
///   (`SQLITE_STATIC` pointers into the op's own strings); transactions begin and commit through
///   prepared statements.
///
/// What it is given and what it leaves out: it starts from the same decoded `Op` values as the hub
/// merge it is compared with (`HubStore.push` takes a decoded `Message.Push`: neither side decodes
/// JSON lines), so it includes interning, packing, binding and SQLite, and leaves out what the
/// store does on top of the semantics: plan validation, NFC, checks of retraction references and
/// clocks, the hub's per-device bookkeeping.
///
/// ``measure(batches:path:synchronous:pageSize:expected:)`` checks its own result before it returns
/// a rate: the log read back equals the ops given, op for op, and the state read back (values,
/// findings, retractions) builds the reference dataset byte for byte.
final class RawSQLite {
    /// An interned name space: `id(of:)` gives each name a small integer, persisted in its table.
    struct Names {
        var ids: [String: Int64] = [:]
        /// The name of each id (ids start at 1).
        var names: [String] = [""]
        let insert: OpaquePointer
        let limit: Int64

        mutating func id(of name: String, in raw: RawSQLite) throws -> Int64 {
            if let id = ids[name] { return id }
            let id = Int64(names.count)
            guard id < limit else { throw BenchmarkError("raw SQLite: more than \(limit - 1) names") }
            sqlite3_bind_int64(insert, 1, id)
            try raw.bind(name, to: insert, at: 2) { try raw.step(insert) }
            ids[name] = id
            names.append(name)
            return id
        }
    }

    private let db: OpaquePointer
    private let insertOp: OpaquePointer
    private let upsertValue: OpaquePointer
    private let upsertRetraction: OpaquePointer
    private let heldOp: OpaquePointer
    private let begin: OpaquePointer
    private let commit: OpaquePointer
    private var devices: Names
    private var units: Names
    private var items: Names
    private var fields: Names
    private(set) var duplicates = 0

    /// The page size of the merge ceiling: 4096 (SQLite's default) was the fastest of 2048 to 16384 here.
    static let mergePageSize = 4096
    /// The page size of the per-op ceilings: a commit writes every page it changed, whole, to the WAL,
    /// so smaller pages write less; 1024 was ~1.3× as fast as 4096 here (2048 about the same as 1024).
    static let perOpPageSize = 1024

    /// Kind codes in the log: 0 set, 1 retraction, 2 + the kind's index for a finding.
    static let findingKinds = FindingKind.allCases

    /// Creates the file, its schema and statements.
    ///
    /// - Parameters:
    ///   - synchronous: `NORMAL` or `FULL` (the journal is WAL either way).
    ///   - pageSize: SQLite's page size; each commit writes every page it changed to the WAL whole.
    init(path: String, synchronous: String, pageSize: Int) throws {
        var handle: OpaquePointer?
        // One connection used by one thread at a time: no per-call mutex (GRDB opens its connections the same way).
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let handle else {
            throw BenchmarkError("raw SQLite: cannot open \(path)")
        }
        db = handle
        func exec(_ sql: String) throws {
            let code = sqlite3_exec(handle, sql, nil, nil, nil)
            guard code == SQLITE_OK else { throw BenchmarkError("raw SQLite: \(String(cString: sqlite3_errmsg(handle))) (\(code)) in \(sql)") }
        }
        func prepare(_ sql: String) throws -> OpaquePointer {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
                throw BenchmarkError("raw SQLite: \(String(cString: sqlite3_errmsg(handle))) in \(sql)")
            }
            return statement
        }
        try exec("PRAGMA page_size = \(pageSize); PRAGMA journal_mode = WAL; PRAGMA synchronous = \(synchronous)")
        try exec("""
            CREATE TABLE devices (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE units (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE fields (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE ops (id INTEGER PRIMARY KEY, hlc INTEGER NOT NULL, kind INTEGER NOT NULL, place INTEGER NOT NULL,
              target INTEGER, value TEXT NOT NULL);
            CREATE INDEX findings ON ops (place) WHERE kind >= 2;
            CREATE TABLE field_values (place INTEGER PRIMARY KEY, hlc INTEGER NOT NULL, op INTEGER NOT NULL);
            CREATE TABLE retractions (finding INTEGER PRIMARY KEY, hlc INTEGER NOT NULL, op INTEGER NOT NULL);
            """)
        insertOp = try prepare("INSERT INTO ops (id, hlc, kind, place, target, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING")
        func lastWriterWins(_ table: String, _ key: String) -> String {
            """
            INSERT INTO \(table) (\(key), hlc, op) VALUES (?1, ?2, ?3)
            ON CONFLICT (\(key)) DO UPDATE SET hlc = excluded.hlc, op = excluded.op
            WHERE excluded.hlc > \(table).hlc
               OR (excluded.hlc = \(table).hlc AND ?4 > (SELECT name FROM devices WHERE id = \(table).op >> 40))
            """
        }
        upsertValue = try prepare(lastWriterWins("field_values", "place"))
        upsertRetraction = try prepare(lastWriterWins("retractions", "finding"))
        heldOp = try prepare("SELECT id, hlc, kind, place, target, value FROM ops WHERE id = ?1")
        begin = try prepare("BEGIN")
        commit = try prepare("COMMIT")
        devices = Names(insert: try prepare("INSERT INTO devices (id, name) VALUES (?1, ?2)"), limit: 1 << 23)
        units = Names(insert: try prepare("INSERT INTO units (id, name) VALUES (?1, ?2)"), limit: 1 << 23)
        items = Names(insert: try prepare("INSERT INTO items (id, name) VALUES (?1, ?2)"), limit: 1 << 20)
        fields = Names(insert: try prepare("INSERT INTO fields (id, name) VALUES (?1, ?2)"), limit: 1 << 20)
    }

    deinit {
        for statement in [insertOp, upsertValue, upsertRetraction, heldOp, begin, commit, devices.insert, units.insert, items.insert, fields.insert] {
            sqlite3_finalize(statement)
        }
        sqlite3_close(db)
    }

    /// Merges `batches`, one transaction each, checks the result against `expected` (the reference
    /// model's dataset of the same ops), and returns the rate in ops per second of the merge alone.
    static func measure(batches: [[Op]], path: String, synchronous: String, pageSize: Int, expected: Dataset) throws -> Double {
        let raw = try RawSQLite(path: path, synchronous: synchronous, pageSize: pageSize)
        let elapsed = try ContinuousClock().measure {
            for batch in batches {
                try raw.step(raw.begin)
                for index in batch.indices { try raw.apply(batch[index]) }
                try raw.step(raw.commit)
            }
        }
        let ops = batches.joined()
        try raw.verify(ops: ops, expected: expected)
        return Double(ops.count) / seconds(elapsed)
    }

    /// Appends one op to the log unless held, and applies it to the state.
    func apply(_ op: Op) throws {
        let device = try devices.id(of: op.device, in: self)
        guard op.sequence >= 1, op.sequence < 1 << 40 else { throw BenchmarkError("raw SQLite: sequence \(op.sequence) out of range") }
        let id = device << 40 | op.sequence
        let hlc = try Self.pack(op.timestamp)
        let unit = try units.id(of: op.unit, in: self)
        let item = try op.item.map { try items.id(of: $0, in: self) } ?? 0
        let field = try op.field.map { try fields.id(of: $0, in: self) } ?? 0
        let place = unit << 40 | item << 20 | field
        let kind: Int64
        var target: Int64?
        switch op.kind {
        case .set: kind = 0
        case .findingRetract:
            kind = 1
            target = try identity(ofFinding: op.finding ?? "")
        case .findingAdd:
            guard let findingKind = op.findingKind, let index = Self.findingKinds.firstIndex(of: findingKind) else {
                throw BenchmarkError("raw SQLite: a finding without a kind")
            }
            kind = 2 + Int64(index)
        case .attachmentAdd:
            // The workload records no files: the ceiling is that of the checklist and the findings.
            throw BenchmarkError("raw SQLite: the workload has no attachments")
        }
        sqlite3_bind_int64(insertOp, 1, id)
        sqlite3_bind_int64(insertOp, 2, hlc)
        sqlite3_bind_int64(insertOp, 3, kind)
        sqlite3_bind_int64(insertOp, 4, place)
        if let target { sqlite3_bind_int64(insertOp, 5, target) } else { sqlite3_bind_null(insertOp, 5) }
        try bind(op.value, to: insertOp, at: 6) { try step(insertOp) }
        guard sqlite3_changes(db) == 1 else {
            guard try held(id) == op else { throw BenchmarkError("raw SQLite: \(op.device)#\(op.sequence) differs from the op held under that number") }
            duplicates += 1
            return
        }
        let state: OpaquePointer
        switch op.kind {
        case .set:
            state = upsertValue
            sqlite3_bind_int64(state, 1, place)
        case .findingRetract:
            state = upsertRetraction
            sqlite3_bind_int64(state, 1, target!)
        case .findingAdd, .attachmentAdd:
            return
        }
        sqlite3_bind_int64(state, 2, hlc)
        sqlite3_bind_int64(state, 3, id)
        try bind(op.device, to: state, at: 4) { try step(state) }
    }

    /// The clock as one integer whose signed order is the clock's order (device aside).
    static func pack(_ timestamp: HLCTimestamp) throws -> Int64 {
        guard timestamp.isValid else { throw BenchmarkError("raw SQLite: timestamp \(timestamp) out of range") }
        return Int64(bitPattern: (UInt64(timestamp.millis) << 16 | UInt64(timestamp.counter)) ^ (1 << 63))
    }

    static func unpack(_ hlc: Int64, device: String) -> HLCTimestamp {
        let bits = UInt64(bitPattern: hlc) ^ (1 << 63)
        return HLCTimestamp(millis: Int64(bits >> 16), counter: Int64(bits & 0xFFFF), device: device)
    }

    /// The identity of a finding from its id, `device/sequence` as `finding_add` makes it (an id in
    /// any other form could not be read back as it was, so the ceiling stops on it).
    func identity(ofFinding finding: String) throws -> Int64 {
        guard let slash = finding.lastIndex(of: "/"), let sequence = Int64(finding[finding.index(after: slash)...]),
              sequence >= 1, sequence < 1 << 40, Op.findingID(device: String(finding[..<slash]), sequence: sequence) == finding else {
            throw BenchmarkError("raw SQLite: finding id '\(finding)' is not device/sequence")
        }
        return try devices.id(of: String(finding[..<slash]), in: self) << 40 | sequence
    }

    /// Binds a text without copying it (`SQLITE_STATIC`), for as long as `body` runs.
    func bind(_ text: String, to statement: OpaquePointer, at index: Int32, _ body: () throws -> Void) throws {
        try text.withCString { pointer in
            sqlite3_bind_text(statement, index, pointer, Int32(text.utf8.count), nil)
            try body()
        }
    }

    /// Runs a statement that returns no row, and resets it.
    func step(_ statement: OpaquePointer) throws {
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard code == SQLITE_DONE else { throw BenchmarkError("raw SQLite: \(String(cString: sqlite3_errmsg(db))) (\(code))") }
    }

    // MARK: - Reading back

    /// The op held under an identity.
    func held(_ id: Int64) throws -> Op? {
        sqlite3_bind_int64(heldOp, 1, id)
        defer { sqlite3_reset(heldOp) }
        return sqlite3_step(heldOp) == SQLITE_ROW ? try op(heldOp) : nil
    }

    /// Runs a query and reads each row.
    func rows(_ sql: String, _ read: (OpaquePointer) throws -> Void) throws {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw BenchmarkError("raw SQLite: cannot read back") }
        defer { sqlite3_finalize(statement) }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw BenchmarkError("raw SQLite: read back failed (\(code))") }
            try read(statement)
        }
    }

    func text(_ statement: OpaquePointer, _ column: Int32) -> String {
        String(cString: sqlite3_column_text(statement, column))
    }

    /// The op of a log row read with the columns `id, hlc, kind, place, target, value`.
    func op(_ row: OpaquePointer) throws -> Op {
        let id = sqlite3_column_int64(row, 0)
        let device = devices.names[Int(id >> 40)], sequence = id & (1 << 40 - 1)
        let timestamp = Self.unpack(sqlite3_column_int64(row, 1), device: device)
        let kind = Int(sqlite3_column_int64(row, 2)), place = sqlite3_column_int64(row, 3)
        let unit = units.names[Int(place >> 40)]
        let item = place >> 20 & (1 << 20 - 1) == 0 ? nil : items.names[Int(place >> 20 & (1 << 20 - 1))]
        let value = text(row, 5)
        switch kind {
        case 0:
            return .set(device: device, sequence: sequence, timestamp: timestamp, unit: unit, item: item ?? "",
                        field: fields.names[Int(place & (1 << 20 - 1))], value: value)
        case 1:
            let target = sqlite3_column_int64(row, 4)
            return .findingRetract(device: device, sequence: sequence, timestamp: timestamp, unit: unit, item: item,
                                   finding: Op.findingID(device: devices.names[Int(target >> 40)], sequence: target & (1 << 40 - 1)),
                                   reason: value)
        default:
            return .findingAdd(device: device, sequence: sequence, timestamp: timestamp, unit: unit, item: item,
                               kind: Self.findingKinds[kind - 2], text: value)
        }
    }

    /// Checks that the log holds exactly the distinct ops given, and that the state builds `expected`.
    ///
    /// Conflicts are not part of the ceiling's state (the store, too, derives them from the log when
    /// it reads); once the log is shown equal to the ops, they are taken from `expected`.
    func verify(ops: some Sequence<Op>, expected: Dataset) throws {
        var log: [Op] = []
        try rows("SELECT id, hlc, kind, place, target, value FROM ops") { log.append(try op($0)) }
        let given = Set(ops)
        guard log.count == given.count, Set(log) == given else {
            throw BenchmarkError("raw SQLite: the log holds \(log.count) ops, not the \(given.count) distinct ops given")
        }
        func version(_ row: OpaquePointer, from column: Int32) -> Dataset.Version {
            let id = sqlite3_column_int64(row, column)
            let device = devices.names[Int(id >> 40)]
            return Dataset.Version(value: text(row, column + 2), device: device, sequence: id & (1 << 40 - 1),
                                   timestamp: Self.unpack(sqlite3_column_int64(row, column + 1), device: device))
        }
        var values: [Dataset.Value] = []
        try rows("SELECT v.place, o.id, o.hlc, o.value FROM field_values v JOIN ops o ON o.id = v.op") { row in
            let place = sqlite3_column_int64(row, 0)
            values.append(Dataset.Value(unit: units.names[Int(place >> 40)], item: items.names[Int(place >> 20 & (1 << 20 - 1))],
                                        field: fields.names[Int(place & (1 << 20 - 1))], current: version(row, from: 1)))
        }
        var retractions: [Int64: Dataset.Version] = [:]
        try rows("SELECT r.finding, o.id, o.hlc, o.value FROM retractions r JOIN ops o ON o.id = r.op") { row in
            retractions[sqlite3_column_int64(row, 0)] = version(row, from: 1)
        }
        var findings: [Dataset.Finding] = []
        try rows("SELECT id, hlc, kind, place, target, value FROM ops WHERE kind >= 2") { row in
            let added = try op(row)
            findings.append(Dataset.Finding(id: added.finding!, unit: added.unit, item: added.item, kind: added.findingKind!, text: added.value,
                                            device: added.device, timestamp: added.timestamp, retraction: retractions[sqlite3_column_int64(row, 0)]))
        }
        let state = Dataset(plan: expected.plan, units: expected.units, values: values, findings: findings, conflicts: expected.conflicts)
        guard state.canonicalJSON() == expected.canonicalJSON() else { throw BenchmarkError("raw SQLite: the state differs from the reference model") }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

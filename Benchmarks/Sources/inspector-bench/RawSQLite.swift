import GRDBSQLite
import InspectorCore

/// The ceiling: the SQLite C API with prepared statements, one transaction, inserting the same ops
/// into an op table and upserting the state tables — no Swift store, no validation.
enum RawSQLite {
    /// - Parameters:
    ///   - transactionPerOp: commit after every op (the device's mode) instead of once for all.
    ///   - synchronous: `NORMAL` or `FULL`.
    static func run(ops: [Op], path: String, transactionPerOp: Bool = false, synchronous: String = "FULL") -> Double {
        var db: OpaquePointer?
        sqlite3_open(path, &db)
        defer { sqlite3_close(db) }
        exec(db, """
            PRAGMA journal_mode=WAL; PRAGMA synchronous=\(synchronous);
            CREATE TABLE ops (position INTEGER PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL,
              counter INTEGER NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL, item TEXT, field TEXT, finding TEXT,
              finding_kind TEXT, value TEXT NOT NULL, UNIQUE (device, seq));
            CREATE TABLE field_values (unit TEXT NOT NULL, item TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
              device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL,
              PRIMARY KEY (unit, item, field)) WITHOUT ROWID;
            CREATE TABLE findings (id TEXT PRIMARY KEY, unit TEXT NOT NULL, item TEXT, kind TEXT NOT NULL, text TEXT NOT NULL,
              device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL) WITHOUT ROWID;
            """)
        let insert = prepare(db, "INSERT INTO ops (device, seq, ms, counter, kind, unit, item, field, finding, finding_kind, value) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
        let upsert = prepare(db, """
            INSERT INTO field_values (unit, item, field, value, device, seq, ms, counter) VALUES (?,?,?,?,?,?,?,?)
            ON CONFLICT (unit, item, field) DO UPDATE SET value = excluded.value, device = excluded.device, seq = excluded.seq,
              ms = excluded.ms, counter = excluded.counter
            WHERE (excluded.ms, excluded.counter, excluded.device) > (field_values.ms, field_values.counter, field_values.device)
            """)
        let finding = prepare(db, "INSERT INTO findings (id, unit, item, kind, text, device, seq, ms, counter) VALUES (?,?,?,?,?,?,?,?,?)")
        defer { sqlite3_finalize(insert); sqlite3_finalize(upsert); sqlite3_finalize(finding) }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            exec(db, "BEGIN")
            for op in ops {
                if transactionPerOp { exec(db, "COMMIT"); exec(db, "BEGIN") }
                bind(insert, [.text(op.device), .int(op.sequence), .int(op.timestamp.millis), .int(op.timestamp.counter), .text(op.kind.rawValue),
                              .text(op.unit), op.item.map(Value.text) ?? .null, op.field.map(Value.text) ?? .null,
                              op.finding.map(Value.text) ?? .null, op.findingKind.map { .text($0.rawValue) } ?? .null, .text(op.value)])
                step(insert)
                if op.kind == .set {
                    bind(upsert, [.text(op.unit), .text(op.item!), .text(op.field!), .text(op.value), .text(op.device), .int(op.sequence),
                                  .int(op.timestamp.millis), .int(op.timestamp.counter)])
                    step(upsert)
                } else {
                    bind(finding, [.text(op.finding!), .text(op.unit), op.item.map(Value.text) ?? .null, .text(op.findingKind!.rawValue),
                                   .text(op.value), .text(op.device), .int(op.sequence), .int(op.timestamp.millis), .int(op.timestamp.counter)])
                    step(finding)
                }
            }
            exec(db, "COMMIT")
        }
        return Double(ops.count) / seconds(elapsed)
    }

    enum Value { case text(String), int(Int64), null }

    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func bind(_ statement: OpaquePointer?, _ values: [Value]) {
        sqlite3_reset(statement)
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .text(let text): sqlite3_bind_text(statement, position, text, -1, transient)
            case .int(let number): sqlite3_bind_int64(statement, position, number)
            case .null: sqlite3_bind_null(statement, position)
            }
        }
    }

    static func step(_ statement: OpaquePointer?) {
        let code = sqlite3_step(statement)
        precondition(code == SQLITE_DONE, "raw SQLite step failed: \(code)")
    }

    static func prepare(_ db: OpaquePointer?, _ sql: String) -> OpaquePointer? {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        precondition(code == SQLITE_OK, "raw SQLite prepare failed: \(code)")
        return statement
    }

    static func exec(_ db: OpaquePointer?, _ sql: String) {
        let code = sqlite3_exec(db, sql, nil, nil, nil)
        precondition(code == SQLITE_OK, "raw SQLite exec failed: \(code)")
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

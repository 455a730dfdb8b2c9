import GRDB
import InspectorCore
import Synchronization

extension ReplicaStore {
    /// Keys of the `meta` table. Private to the store: an app and the sync client read the typed
    /// ``SyncState`` and change it only through the store's methods, so no caller can set a cursor
    /// or a confirmed number by hand.
    enum MetaKey: String, Sendable, CaseIterable {
        /// This replica's device id.
        case device
        /// This replica's ``Role`` (absent in files of releases before it was recorded; see `make(writer:clock:)`).
        case role
        /// The plan, as canonical JSON.
        case plan
        /// The hybrid logical clock's last physical part and counter.
        case clockMillis = "clock_millis"
        case clockCounter = "clock_counter"
        /// Hub time minus device time, in milliseconds, as last measured.
        case clockOffset = "clock_offset_ms"
        /// When the offset was measured (device wall clock, ms).
        case clockOffsetMeasuredAt = "clock_offset_measured_at"
        /// The hub's address, `HOST:PORT`.
        case hubAddress = "hub_address"
        /// The device's token for the hub.
        case hubToken = "hub_token"
        /// The hub's pull cursor: the last hub log position received.
        case pullCursor = "pull_cursor"
        /// The highest sequence number of this device that the hub has made durable.
        case hubConfirmedSequence = "hub_confirmed_sequence"
        /// The units this device may write and read, as a JSON array; absent until the hub says.
        case scope
        /// When the last sync finished (device wall clock, ms).
        case lastSync = "last_sync"
        /// The operations the hub refused, as a JSON array of ``ReplicaStore/SetAsideOp``.
        case refused
        /// The highest sequence number of this device written into a bundle: its ops up to here have left it.
        case bundleExportedThrough = "bundle_exported_through"
        /// How many held-back operations the hub was last told of (PROTOCOL.md 11.5).
        case heldBackReported = "held_back_reported"
        /// A point of this device's own operation chain that can no longer change: a sequence number
        /// and its chain value, `SEQ:HEX` (PROTOCOL.md 19.1).
        case chainAnchor = "chain_anchor"
        /// The keys of the devices whose operations this replica may receive, as the hub listed
        /// them: a JSON object from device id to key fingerprint (PROTOCOL.md 19.4).
        case authorKeys = "author_keys"
        /// Which files of attachments a sync fetches: ``AttachmentPolicy`` (`own` when absent).
        case fetchAttachments = "fetch_attachments"
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE units (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT,
                    from_plan INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE ops (
                    position INTEGER PRIMARY KEY,
                    device TEXT NOT NULL, seq INTEGER NOT NULL,
                    ms INTEGER NOT NULL, counter INTEGER NOT NULL,
                    kind TEXT NOT NULL, unit TEXT NOT NULL, item TEXT, field TEXT,
                    finding TEXT, finding_kind TEXT, value TEXT NOT NULL,
                    UNIQUE (device, seq)
                );
                CREATE INDEX ops_by_field ON ops (unit, item, field, device) WHERE kind = 'set';
                CREATE TABLE field_values (
                    unit TEXT NOT NULL, item TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
                    device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL,
                    PRIMARY KEY (unit, item, field)
                ) WITHOUT ROWID;
                CREATE TABLE findings (
                    id TEXT PRIMARY KEY, unit TEXT NOT NULL, item TEXT, kind TEXT NOT NULL, text TEXT NOT NULL,
                    device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE retractions (
                    finding TEXT PRIMARY KEY, reason TEXT NOT NULL,
                    device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-set-aside") { db in
            // Own ops the hub refused stay in the log but leave the state (PROTOCOL.md 10.3), and
            // pulled ops the device cannot store wait outside it (11.5).
            try db.execute(sql: """
                ALTER TABLE ops ADD COLUMN set_aside INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE held_back (
                    id INTEGER PRIMARY KEY, device TEXT, seq INTEGER, json TEXT NOT NULL,
                    code TEXT NOT NULL, message TEXT NOT NULL
                );
                """)
            if let device = try meta(db, .device), let text = try meta(db, .refused),
               let list = try? JSONDecoder().decode([SetAsideOp].self, from: Data(text.utf8)), !list.isEmpty {
                for op in list {
                    try db.execute(sql: "UPDATE ops SET set_aside = 1 WHERE device = ? AND seq = ?", arguments: [device, op.sequence])
                }
                // The state is rebuilt without them by "v5-interned", which rebuilds every file's state.
            }
        }
        migrator.registerMigration("v3-observable") { db in
            // GRDB's ValueObservation hears of changes through SQLite's update hook, which is silent
            // for WITHOUT ROWID tables: the sync state (meta) and the units must be rowid tables for
            // an app to observe them. Both are a few rows. (The state tables, also WITHOUT ROWID,
            // only ever change together with `ops`, which observations read.)
            try db.execute(sql: """
                CREATE TABLE meta_observable (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO meta_observable (key, value) SELECT key, value FROM meta;
                DROP TABLE meta;
                ALTER TABLE meta_observable RENAME TO meta;
                CREATE TABLE units_observable (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT,
                    from_plan INTEGER NOT NULL
                );
                INSERT INTO units_observable (id, name, kind, parent, from_plan) SELECT id, name, kind, parent, from_plan FROM units;
                DROP TABLE units;
                ALTER TABLE units_observable RENAME TO units;
                """)
        }
        migrator.registerMigration("v4-field-history") { db in
            // A `set` op's field history by author and time: the conflict ledger reads each
            // author's latest value from it, and a compact pull (PROTOCOL.md 11.6) asks of every
            // op whether a later one of the same author on the same field supersedes it, with one
            // index seek instead of a scan of that author's history.
            try db.execute(sql: """
                DROP INDEX ops_by_field;
                CREATE INDEX ops_by_field ON ops (unit, item, field, device, ms, counter) WHERE kind = 'set';
                """)
        }
        migrator.registerMigration("v5-interned") { db in
            // The schema the merge profile asked for (docs/performance.md): names (devices, units,
            // items, fields) interned as integers, the clock packed into one integer that orders as
            // the timestamp, the kind as a small integer, and the state tables keyed by integers.
            // Readers see the old columns through views. The state is rebuilt from the log.
            try db.execute(sql: """
                CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                INSERT INTO names (name)
                    SELECT device FROM ops UNION SELECT unit FROM ops
                    UNION SELECT item FROM ops WHERE item IS NOT NULL UNION SELECT field FROM ops WHERE field IS NOT NULL;
                CREATE TABLE interned_ops (
                    position INTEGER PRIMARY KEY,
                    device INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, kind INTEGER NOT NULL,
                    unit INTEGER NOT NULL, item INTEGER, field INTEGER,
                    finding TEXT, finding_kind TEXT, value TEXT NOT NULL, set_aside INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (device, seq)
                );
                INSERT INTO interned_ops (position, device, seq, hlc, kind, unit, item, field, finding, finding_kind, value, set_aside)
                    SELECT position, (SELECT id FROM names WHERE name = ops.device), seq,
                           \(Self.packedClockSQL(millis: "ms", counter: "counter")),
                           CASE kind WHEN 'set' THEN 0 WHEN 'finding_add' THEN 1 ELSE 2 END,
                           (SELECT id FROM names WHERE name = ops.unit), (SELECT id FROM names WHERE name = ops.item),
                           (SELECT id FROM names WHERE name = ops.field), finding, finding_kind, value, set_aside
                    FROM ops;
                DROP TABLE ops;
                ALTER TABLE interned_ops RENAME TO ops;
                CREATE INDEX ops_by_field ON ops (unit, item, field, device, hlc) WHERE kind = 0;
                DROP TABLE field_values;
                DROP TABLE findings;
                DROP TABLE retractions;
                CREATE TABLE field_values (
                    unit INTEGER NOT NULL, item INTEGER NOT NULL, field INTEGER NOT NULL, value TEXT NOT NULL,
                    device INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,
                    PRIMARY KEY (unit, item, field)
                ) WITHOUT ROWID;
                CREATE TABLE findings (
                    id TEXT PRIMARY KEY, unit INTEGER NOT NULL, item INTEGER, kind TEXT NOT NULL, text TEXT NOT NULL,
                    device INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE retractions (
                    finding TEXT PRIMARY KEY, reason TEXT NOT NULL, device INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE VIEW op_rows AS
                    SELECT ops.position AS position, ops.device AS device_id, d.name AS device, ops.seq AS seq, ops.hlc AS hlc,
                           \(Self.millisSQL("ops.hlc")) AS ms, \(Self.counterSQL("ops.hlc")) AS counter,
                           ops.kind AS kind_code, CASE ops.kind WHEN 0 THEN 'set' WHEN 1 THEN 'finding_add' ELSE 'finding_retract' END AS kind,
                           ops.unit AS unit_id, u.name AS unit, ops.item AS item_id, i.name AS item, ops.field AS field_id, f.name AS field,
                           ops.finding AS finding, ops.finding_kind AS finding_kind, ops.value AS value, ops.set_aside AS set_aside
                    FROM ops JOIN names AS d ON d.id = ops.device JOIN names AS u ON u.id = ops.unit
                    LEFT JOIN names AS i ON i.id = ops.item LEFT JOIN names AS f ON f.id = ops.field;
                CREATE VIEW field_value_rows AS
                    SELECT u.name AS unit, i.name AS item, f.name AS field, v.value AS value, d.name AS device, v.seq AS seq,
                           v.hlc AS hlc, \(Self.millisSQL("v.hlc")) AS ms, \(Self.counterSQL("v.hlc")) AS counter
                    FROM field_values AS v JOIN names AS u ON u.id = v.unit JOIN names AS i ON i.id = v.item
                    JOIN names AS f ON f.id = v.field JOIN names AS d ON d.id = v.device;
                CREATE VIEW finding_rows AS
                    SELECT x.id AS id, u.name AS unit, i.name AS item, x.kind AS kind, x.text AS text, d.name AS device, x.seq AS seq,
                           x.hlc AS hlc, \(Self.millisSQL("x.hlc")) AS ms, \(Self.counterSQL("x.hlc")) AS counter
                    FROM findings AS x JOIN names AS u ON u.id = x.unit LEFT JOIN names AS i ON i.id = x.item
                    JOIN names AS d ON d.id = x.device;
                CREATE VIEW retraction_rows AS
                    SELECT r.finding AS finding, r.reason AS reason, d.name AS device, r.device AS device_id, r.seq AS seq,
                           r.hlc AS hlc, \(Self.millisSQL("r.hlc")) AS ms, \(Self.counterSQL("r.hlc")) AS counter
                    FROM retractions AS r JOIN names AS d ON d.id = r.device;
                """)
            // Nothing observes a store while it opens.
            try rebuildState(db, using: Writers(db, notifying: false, committedNames: nil))
        }
        migrator.registerMigration("v6-attachments") { db in
            // Files attached to findings (PROTOCOL.md 6.5, 20): the `attachment_add` ops are their
            // own record (kind 3), found by finding through a small partial index; the files this
            // replica recorded, and whether the hub has said it holds them, in `attachment_files`.
            try db.execute(sql: """
                DROP VIEW op_rows;
                CREATE VIEW op_rows AS
                    SELECT ops.position AS position, ops.device AS device_id, d.name AS device, ops.seq AS seq, ops.hlc AS hlc,
                           \(Self.millisSQL("ops.hlc")) AS ms, \(Self.counterSQL("ops.hlc")) AS counter,
                           ops.kind AS kind_code,
                           CASE ops.kind WHEN 0 THEN 'set' WHEN 1 THEN 'finding_add' WHEN 2 THEN 'finding_retract' ELSE 'attachment_add' END AS kind,
                           ops.unit AS unit_id, u.name AS unit, ops.item AS item_id, i.name AS item, ops.field AS field_id, f.name AS field,
                           ops.finding AS finding, ops.finding_kind AS finding_kind, ops.value AS value, ops.set_aside AS set_aside
                    FROM ops JOIN names AS d ON d.id = ops.device JOIN names AS u ON u.id = ops.unit
                    LEFT JOIN names AS i ON i.id = ops.item LEFT JOIN names AS f ON f.id = ops.field;
                CREATE INDEX ops_attachments ON ops (finding) WHERE kind = 3;
                CREATE TABLE attachment_files (
                    hash TEXT PRIMARY KEY, size INTEGER NOT NULL, confirmed INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE attachment_wanted (hash TEXT PRIMARY KEY) WITHOUT ROWID;
                CREATE TABLE attachment_evicted (hash TEXT PRIMARY KEY) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v7-field-index-set-aside") { db in
            // `set_aside` joins the field index, so that the questions asked of a field's `set` ops
            // with set-aside ones left out (is this op superseded by a later one of its author, for a
            // compact pull and its count; each author's latest value, for the conflict ledger) are
            // answered from the index alone. `kind` too, though the index holds only kind 0: SQLite
            // 3.40 counts a partial index as covering only when it holds every column a query
            // names, the one of its WHERE included.
            try db.execute(sql: """
                DROP INDEX ops_by_field;
                CREATE INDEX ops_by_field ON ops (unit, item, field, device, hlc, set_aside, kind) WHERE kind = 0;
                """)
        }
        return migrator
    }

    /// SQL for a packed clock (``InspectorCore/HLCTimestamp/packed``) from two integer expressions:
    /// the bits of `millis << 16 | counter` with the top bit flipped, so that signed order is time order.
    static func packedClockSQL(millis: String, counter: String) -> String {
        "(((\(millis) << 16) | \(counter)) | (1 << 63)) - (((\(millis) << 16) | \(counter)) & (1 << 63))"
    }

    /// SQL for the milliseconds of a packed clock.
    static func millisSQL(_ packed: String) -> String {
        "(((\(packed) | (1 << 63)) - (\(packed) & (1 << 63))) >> 16) & 281474976710655"
    }

    /// SQL for the counter of a packed clock.
    static func counterSQL(_ packed: String) -> String {
        "((\(packed) | (1 << 63)) - (\(packed) & (1 << 63))) & 65535"
    }

    static func meta(_ db: Database, _ key: MetaKey) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM meta WHERE key = ?"), arguments: [key.rawValue])
    }

    static func setMeta(_ db: Database, _ key: MetaKey, _ value: String?) throws {
        if let value {
            try db.cachedStatement(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
                .execute(arguments: [key.rawValue, value])
        } else {
            try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key.rawValue])
        }
    }

    static func loadUnits(_ db: Database) throws -> [Plan.Unit] {
        let order = try unitOrder(db)
        let rows = try Row.fetchAll(db, sql: "SELECT id, name, kind, parent FROM units")
        let units = rows.map { row in
            Plan.Unit(id: row["id"], name: row["name"], kind: Plan.Unit.Kind(rawValue: row["kind"]) ?? .direct, parent: row["parent"])
        }
        return units.sorted { (order[$0.id] ?? Int.max, $0.id) < (order[$1.id] ?? Int.max, $1.id) }
    }

    /// The plan's order of its units, by id. The hub reloads its units before every push and pull
    /// (another process may have added some), so the order is kept for the plan's JSON it was read
    /// from, and the plan is decoded again only when that JSON changes: decoding it each time was
    /// 1.3 % of a new device's bootstrap at the hub (docs/performance.md).
    static func unitOrder(_ db: Database) throws -> [String: Int] {
        guard let json = try meta(db, .plan) else { return [:] }
        if let cached = unitOrderCache.withLock({ $0 }), cached.json == json { return cached.order }
        let plan = try? Plan.decode(from: Data(json.utf8))
        let order = Dictionary((plan?.units ?? []).enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        unitOrderCache.withLock { $0 = (json, order) }
        return order
    }

    /// The last plan JSON `unitOrder` decoded, with its order: keyed by the JSON itself, so it holds
    /// for any store of the process.
    private static let unitOrderCache = Mutex<(json: String, order: [String: Int])?>(nil)

    static func replaceUnits(_ db: Database, _ units: [(Plan.Unit, Bool)]) throws {
        for (unit, fromPlan) in units {
            try db.execute(sql: """
                INSERT INTO units (id, name, kind, parent, from_plan) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind, parent = excluded.parent
                """, arguments: [unit.id, unit.name, unit.kind.rawValue, unit.parent, fromPlan])
        }
    }
}

import Foundation

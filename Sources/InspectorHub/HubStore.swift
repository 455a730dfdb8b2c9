import Crypto
import Foundation
import GRDB
import InspectorCore
import InspectorProtocol
import InspectorStore
import InspectorTLS

/// The hub's store: every operation and the merged state (a ``InspectorStore/ReplicaStore`` with the
/// device id `hub`, `synchronous=FULL`), plus the enrolled devices, their token hashes, scopes and
/// sync progress, in the same SQLite file.
///
/// ```swift
/// let hub = try HubStore.create(at: "hub.sqlite", plan: plan)
/// let token = try hub.addDevice("dev-a", units: ["muong-lay"], name: "Lò Văn Hùng")
/// ```
public struct HubStore: Sendable {
    /// The replica holding every operation and the merged state.
    public let replica: ReplicaStore

    /// The hub's key pair, made by `hub init` (or when a file of an earlier release is first opened)
    /// and kept in the hub file: devices pin its ``InspectorTLS/TLSIdentity/fingerprint``.
    public let identity: TLSIdentity

    /// The device id the hub uses for its own operations (a supervisor's resolutions).
    public static let deviceID = Identifier.hubDevice

    /// Creates a hub file.
    public static func create(at path: String, plan: Plan, clock: @escaping @Sendable () -> Int64 = ReplicaStore.systemClock) throws -> HubStore {
        let replica = try ReplicaStore.createHub(at: path, plan: plan, durability: .full, clock: clock)
        try migrate(replica.writer, now: clock())
        return HubStore(replica: replica, identity: try loadIdentity(replica.writer))
    }

    /// Opens a hub file.
    public static func open(at path: String, clock: @escaping @Sendable () -> Int64 = ReplicaStore.systemClock) throws -> HubStore {
        let replica = try ReplicaStore.open(at: path, durability: .full, clock: clock)
        guard replica.role == .hub else {
            throw HubError(.notAHub, "\(path) is a device replica, not a hub; create a hub with 'hub init'")
        }
        try migrate(replica.writer, now: clock())
        return HubStore(replica: replica, identity: try loadIdentity(replica.writer))
    }

    /// How long an enrollment code stays valid by default: 7 days.
    public static let defaultEnrollmentValidity: Duration = .seconds(7 * 86_400)

    private static func loadIdentity(_ writer: any DatabaseWriter) throws -> TLSIdentity {
        let pem = try writer.read { db in try String.fetchOne(db, sql: "SELECT private_key FROM hub_key WHERE id = 1") }
        guard let pem else { throw HubError(.notAHub, "the hub file has no key; it was not made by 'hub init'") }
        return try TLSIdentity(privateKeyPEM: pem)
    }

    private static func migrate(_ writer: any DatabaseWriter, now: Int64) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("hub-v1") { db in
            try db.execute(sql: """
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY, name TEXT, token_hash TEXT NOT NULL, units TEXT NOT NULL,
                    revoked INTEGER NOT NULL DEFAULT 0, confirmed INTEGER NOT NULL DEFAULT 0,
                    last_sync INTEGER, clock_offset INTEGER
                ) WITHOUT ROWID;
                CREATE TABLE push_offsets (
                    device TEXT NOT NULL, first_position INTEGER NOT NULL, last_position INTEGER NOT NULL,
                    clock_offset INTEGER NOT NULL
                );
                CREATE TABLE schedules (unit TEXT PRIMARY KEY, arrival TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE resolutions (
                    seq INTEGER PRIMARY KEY, unit TEXT NOT NULL, item TEXT NOT NULL, field TEXT NOT NULL,
                    value TEXT NOT NULL, decided_by TEXT NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL
                );
                CREATE TABLE withdrawn (
                    device TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (device, seq)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("hub-v2-held-back") { db in
            // What each device last reported of the pulled ops it holds back (PROTOCOL.md 11.5).
            try db.execute(sql: """
                CREATE TABLE held_back_reports (
                    device TEXT PRIMARY KEY, count INTEGER NOT NULL, entries TEXT NOT NULL, reported_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("hub-v3-keys") { db in
            // The hub's key pair (PROTOCOL.md 2.2), and each device's enrollment: the key it enrolled
            // with, when, and until when its enrollment secret may be used (9.8). Devices enrolled by
            // an earlier release keep their token as an enrollment secret, valid for 7 days from now.
            try db.execute(sql: """
                CREATE TABLE hub_key (
                    id INTEGER PRIMARY KEY CHECK (id = 1), private_key TEXT NOT NULL, created_at INTEGER NOT NULL
                );
                ALTER TABLE devices ADD COLUMN device_key TEXT;
                ALTER TABLE devices ADD COLUMN enrolled_at INTEGER;
                ALTER TABLE devices ADD COLUMN enrollment_expires INTEGER;
                """)
            try db.execute(sql: "INSERT INTO hub_key (id, private_key, created_at) VALUES (1, ?, ?)",
                           arguments: [TLSIdentity.generate().privateKeyPEM, now])
            try db.execute(sql: "UPDATE devices SET enrollment_expires = ?",
                           arguments: [Self.expiry(from: now, after: Self.defaultEnrollmentValidity)])
        }
        migrator.registerMigration("hub-v4-chains") { db in
            // Each device's verified run of its signed operation chain (PROTOCOL.md 19): from which
            // sequence number, through which, and the signed head that ends it.
            try db.execute(sql: """
                ALTER TABLE devices ADD COLUMN chain_from INTEGER;
                ALTER TABLE devices ADD COLUMN chain_through INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE devices ADD COLUMN chain_head BLOB;
                ALTER TABLE devices ADD COLUMN chain_signature BLOB;
                """)
        }
        registerOfficeMigration(&migrator)
        try migrator.migrate(writer)
    }

    /// The SHA-256 of a token, hex; the hub stores only this.
    static func hash(token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A new random token: 32 bytes, hex.
    package static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

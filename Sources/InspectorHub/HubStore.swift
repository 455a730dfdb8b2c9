import Crypto
import Foundation
import GRDB
import InspectorCore
import InspectorStore

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

    /// The device id the hub uses for its own operations (a supervisor's resolutions).
    public static let deviceID = Identifier.hubDevice

    /// Creates a hub file.
    public static func create(at path: String, plan: Plan, clock: @escaping @Sendable () -> Int64 = ReplicaStore.systemClock) throws -> HubStore {
        let replica = try ReplicaStore.createHub(at: path, plan: plan, durability: .full, clock: clock)
        try migrate(replica.writer)
        return HubStore(replica: replica)
    }

    /// Opens a hub file.
    public static func open(at path: String, clock: @escaping @Sendable () -> Int64 = ReplicaStore.systemClock) throws -> HubStore {
        let replica = try ReplicaStore.open(at: path, durability: .full, clock: clock)
        guard replica.role == .hub else {
            throw HubError(.notAHub, "\(path) is a device replica, not a hub; create a hub with 'hub init'")
        }
        try migrate(replica.writer)
        return HubStore(replica: replica)
    }

    private static func migrate(_ writer: any DatabaseWriter) throws {
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
        try migrator.migrate(writer)
    }

    /// The SHA-256 of a token, hex; the hub stores only this.
    static func hash(token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A new random token: 32 bytes, hex.
    static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

import Foundation
import InspectorCore
import InspectorStore
import Testing

/// The typed sync state (`ReplicaStore+SyncState.swift`), read at once and observed.
@Suite struct ReplicaStoreSyncStateTests {
    @Test func aFreshReplicaThenEditsAMergeAndWhatASyncRecords() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            var state = try await a.syncState()
            #expect(state.hubAddress == nil && state.confirmed == 0 && state.lastSequence == 0 && state.pullCursor == 0)
            #expect(state.clockOffset == nil && state.clockOffsetMeasuredAt == nil && state.lastSync == nil && state.scope == nil)
            #expect(state.setAside.isEmpty && state.heldBack.isEmpty && state.operationCount == 0 && state.pending == 0)
            for value in ["not_started", "in_progress", "done"] { try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: value) }
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            try await a.merge([try b.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")])
            // What a sync keeps: the hub's answers, written by the sync client.
            try a.connect(toHubAt: "127.0.0.1:7420", token: "t0ken")
            try await a.recordWelcome(scope: ["muong-lay"], clockOffset: -1234, measuredAt: baseMillis, confirmed: 1)
            try a.merge([], pullCursor: 17)
            try await a.recordSyncEnded(at: baseMillis + 5)
            try await a.recordHeldBackReported(2)
            try a.setAside(ReplicaStore.SetAsideOp(sequence: 2, code: "out_of_scope", message: "not assigned"))
            state = try await a.syncState()
            #expect(state.hubAddress == "127.0.0.1:7420" && state.confirmed == 1 && state.pullCursor == 17)
            #expect(state.clockOffset == -1234 && state.clockOffsetMeasuredAt == baseMillis && state.lastSync == baseMillis + 5)
            #expect(state.scope == ["muong-lay"] && state.lastSequence == 3 && state.operationCount == 4)
            // The count is read from the log's end: duplicates and a refused batch leave it equal to the rows.
            let held = try a.operations().map(\.operation)
            try await a.merge(held.filter { $0.device == "dev-b" })
            var forged = held[3]
            forged.value = "kha"
            #expect(throws: (any Error).self) { try a.merge([try b.set(unit: "muong-lay", item: "II.4", field: "note", value: "x"), forged]) }
            let counted = try await a.syncState().operationCount
            #expect(try counted == a.operationCount() && counted == 4)
            #expect(state.setAside.map(\.sequence) == [2] && state.heldBack.isEmpty)
            #expect(state.pending == 1, "3 recorded, 1 confirmed, 1 set aside")
            #expect(state.heldBackReported == 2 && state.hasMetHub)
            #expect(try a.hubLink() == ReplicaStore.HubLink(address: "127.0.0.1:7420", token: "t0ken"))
        }
    }

    /// Setting the hub: an empty address or token, or the hub's own replica, is refused and changes nothing.
    @Test func connectingRefusesAnEmptyAddressOrTokenAndTheHubsReplica() async throws {
        try await withTemporaryDirectory { dir in
            let a = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            try a.connect(toHubAt: "127.0.0.1:7420", token: "t0ken")
            #expect(thrown { try a.connect(toHubAt: "") }.code == "invalid_argument")
            #expect(thrown { try a.connect(toHubAt: "10.0.0.5:7420", token: "") }.code == "invalid_argument")
            #expect(try a.hubLink() == ReplicaStore.HubLink(address: "127.0.0.1:7420", token: "t0ken"))
            try a.connect(toHubAt: "10.0.0.5:7420")   // a hub that moved: the token stays
            #expect(try a.hubLink() == ReplicaStore.HubLink(address: "10.0.0.5:7420", token: "t0ken"))
            let hub = try ReplicaStore.createHub(at: dir.appendingPathComponent("hub.sqlite").path, plan: builtInPlan, durability: .full,
                                                 clock: ManualClock().read)
            #expect(thrown { try hub.connect(toHubAt: "127.0.0.1:7420", token: "t") }.code == "invalid_argument")
            #expect(try hub.hubLink() == nil)
        }
    }

    @Test func theStateIsObservedAsEditsAreCommitted() async throws {
        try await withTemporaryDirectory { dir in
            let a = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            var states = a.observeSyncState().makeAsyncIterator()
            let first = try await states.next()
            #expect(first?.pending == 0)
            try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            let second = try await states.next()
            #expect(second?.pending == 1 && second?.lastSequence == 1)
            try await a.recordConfirmed(1)
            let third = try await states.next()
            #expect(third?.pending == 0 && third?.confirmed == 1)
        }
    }

    /// A file of the previous release: meta and units were WITHOUT ROWID tables, whose changes SQLite's
    /// update hook (and so GRDB's observation) never reports. Opening it migrates them (v3-observable).
    @Test func aFileOfThePreviousReleaseMigratesAndItsSyncStateIsObserved() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("dev-a.sqlite").path
            do {
                let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
                try await store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
                try store.connect(toHubAt: "127.0.0.1:7420")
                try store.recordScope(["muong-lay"])
                try store.upsertUnits([Plan.Unit(id: "muong-lay.na-lay", name: "Phường Na Lay", kind: .direct, parent: "muong-lay")])
                try await store.writer.write { db in
                    try db.execute(sql: """
                        CREATE TABLE meta_old (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                        INSERT INTO meta_old SELECT key, value FROM meta; DROP TABLE meta; ALTER TABLE meta_old RENAME TO meta;
                        CREATE TABLE units_old (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT, from_plan INTEGER NOT NULL) WITHOUT ROWID;
                        INSERT INTO units_old SELECT * FROM units; DROP TABLE units; ALTER TABLE units_old RENAME TO units;
                        DELETE FROM grdb_migrations WHERE identifier = 'v3-observable';
                        """)
                }
            }
            let reopened = try ReplicaStore.open(at: path, clock: ManualClock().read)
            let withoutRowID = try await reopened.writer.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name IN ('meta', 'units') AND sql LIKE '%WITHOUT ROWID%'")
            }
            #expect(withoutRowID.isEmpty)
            let reopenedState = try await reopened.syncState()
            #expect(reopenedState.hubAddress == "127.0.0.1:7420" && reopenedState.scope == ["muong-lay"])
            #expect(reopened.units.contains { $0.id == "muong-lay.na-lay" })
            #expect(try reopened.dataset().values.first?.current.value == "done")
            var states = reopened.observeSyncState().makeAsyncIterator()
            let first = try await states.next()
            try await reopened.recordSyncEnded(at: 1)
            let second = try await states.next()
            #expect(first?.lastSync == nil && second?.lastSync == 1)
            #expect(try reopened.integrityCheck() == "ok")
        }
    }
}

import GRDB
import InspectorCore
@testable import InspectorStore
import Testing

/// Names as integers (`ReplicaStore+Names.swift`): given once, shared only once committed.
@Suite struct ReplicaStoreNamesTests {
    /// A batch that brings a new device and is then refused rolls its name back with it; the next
    /// batch gives the name again, and the log, the state and a second store on the file agree.
    @Test func aNameAddedByARefusedBatchIsNotKept() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-new", clock: clock)
            let first = try b.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            var forged = first
            forged.value = "in_progress"
            #expect(throws: (any Error).self) { try a.merge([first, forged]) }
            let count = { (name: String) in try a.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM names WHERE name = ?", arguments: [name]) } }
            #expect(try count("dev-new") == 0, "the refused batch's name went with it")
            try a.merge([first])
            try a.merge([try b.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")])
            #expect(try count("dev-new") == 1 && count("II.4") == 1)
            let values = try a.dataset().values
            #expect(values.map(\.current.device) == ["dev-new", "dev-new"] && values.map(\.current.value).sorted() == ["done", "tot"])
            let again = try ReplicaStore.open(at: dir.appendingPathComponent("dev-a.sqlite").path)
            #expect(try again.dataset().canonicalJSON() == a.dataset().canonicalJSON())
            #expect(try again.operations().map(\.operation) == a.operations().map(\.operation))
            #expect(try a.integrityCheck() == "ok")
        }
    }

    /// Two `Names` in one transaction: the second finds the name the first added. The transaction
    /// rolls back, so the store-wide cache must not keep that integer; a committed transaction does.
    @Test func aNameFoundInARolledBackTransactionIsNotCached() throws {
        try withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            let cache = ReplicaStore.CommittedNames()
            struct Refused: Error {}
            #expect(throws: Refused.self) {
                try store.writer.write { db in
                    let first = try ReplicaStore.Names(db, committed: cache)
                    let added = try first.id(of: "dev-rolled-back")
                    let second = try ReplicaStore.Names(db, committed: cache)
                    #expect(try second.existingID(of: "dev-rolled-back") == added, "found in the table by the second instance")
                    throw Refused()
                }
            }
            #expect(cache.id(of: "dev-rolled-back") == nil, "a rolled-back name was cached")
            // Another name takes the integer; the cache holds the committed truth once a commit reads it.
            let other = try store.writer.write { db in try ReplicaStore.Names(db, committed: cache).id(of: "dev-other") }
            let found = try store.writer.write { db in try ReplicaStore.Names(db, committed: cache).existingID(of: "dev-other") }
            #expect(found == other && cache.id(of: "dev-other") == other)
            #expect(try store.writer.read { db in try ReplicaStore.Names(db, committed: nil).existingID(of: "dev-rolled-back") } == nil)
        }
    }
}

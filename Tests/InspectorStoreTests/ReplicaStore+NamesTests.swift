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
}

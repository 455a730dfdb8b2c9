import Foundation
import InspectorCore
import InspectorStore
import Testing

@Suite struct ReplicaStoreTests {
    @Test func createsAnEmptyReplica() throws {
        try withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            #expect(store.device == "dev-a")
            #expect(store.plan == builtInPlan)
            #expect(store.units == builtInPlan.units)
            #expect(try store.operationCount() == 0)
            #expect(try store.lastSequence(of: "dev-a") == 0)
            #expect(try store.device == "dev-a")
            #expect(try store.scope() == nil)
            #expect(try store.integrityCheck() == "ok")
            let data = try store.dataset()
            #expect(data.values.isEmpty && data.findings.isEmpty && data.conflicts.isEmpty)
            #expect(data.units == builtInPlan.units)
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("dev-a.sqlite").path))
        }
    }

    @Test func reopensWithEverythingInPlace() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("dev-a.sqlite").path
            let clock = ManualClock()
            let store = try ReplicaStore.create(at: path, device: "dev-a", plan: builtInPlan, durability: .full, clock: clock.read)
            let first = try store.set(unit: "muong-lay", item: "II.5", field: "fund_percent", value: "12,50")
            try store.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Chưa trích lập quỹ")
            let before = try store.dataset().canonicalJSON()

            let reopened = try ReplicaStore.open(at: path, clock: clock.read)
            #expect(reopened.device == "dev-a")
            #expect(reopened.plan == builtInPlan)
            #expect(reopened.units == builtInPlan.units)
            #expect(try reopened.operationCount() == 2)
            #expect(try reopened.lastSequence(of: "dev-a") == 2)
            #expect(try reopened.dataset().canonicalJSON() == before)

            // The clock is persisted: with the wall clock set back an hour, the next edit still orders after.
            clock.set(baseMillis - 3_600_000)
            let later = try reopened.set(unit: "muong-lay", item: "II.5", field: "fund_percent", value: "15")
            #expect(later.sequence == 3)
            #expect(later.timestamp > first.timestamp)
            #expect(try reopened.dataset().values.first { $0.field == "fund_percent" }?.current.value == "15")
        }
    }

    @Test func createRefusesAnExistingFile() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            _ = try makeStore(in: dir, device: "dev-a", clock: clock)
            let again = thrown { _ = try makeStore(in: dir, device: "dev-a", clock: clock) }
            #expect(again.code == "already_exists")
            #expect(again.message.contains("dev-a.sqlite"))

            let other = dir.appendingPathComponent("notes.txt")
            try Data("ghi chú".utf8).write(to: other)
            #expect(thrown { _ = try ReplicaStore.create(at: other.path, device: "dev-b", plan: builtInPlan) }.code == "already_exists")
            #expect(try Data(contentsOf: other) == Data("ghi chú".utf8))
        }
    }

    @Test(arguments: ["", "Dev-A", "dev a", "-dev", "thiết-bị", String(repeating: "d", count: 65)])
    func createRefusesAnInvalidDeviceID(device: String) throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("x.sqlite").path
            #expect(thrown { _ = try ReplicaStore.create(at: path, device: device, plan: builtInPlan) }.code == "invalid_device_id")
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    /// `hub` names the hub's own operations: a device may not take it (it would merge as the hub).
    @Test func createRefusesTheHubsReservedIDAndRecordsTheRole() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("x.sqlite").path
            let error = thrown { _ = try ReplicaStore.create(at: path, device: "hub", plan: builtInPlan) }
            #expect(error.code == "invalid_device_id" && error.message.contains("reserved"), "\(error)")
            #expect(!FileManager.default.fileExists(atPath: path))
            let device = try ReplicaStore.create(at: path, device: "dev-a", plan: builtInPlan)
            #expect(device.role == .device)
            let hub = try ReplicaStore.createHub(at: dir.appendingPathComponent("hub.sqlite").path, plan: builtInPlan, durability: .full,
                                                 clock: ReplicaStore.systemClock)
            let reopened = try ReplicaStore.open(at: dir.appendingPathComponent("hub.sqlite").path)
            #expect(hub.role == .hub && reopened.role == .hub)
        }
    }

    @Test func openRefusesAMissingFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("none.sqlite").path
            let error = thrown { _ = try ReplicaStore.open(at: path) }
            #expect(error.code == "not_found")
            #expect(error.message.contains("none.sqlite"))
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func openRefusesAFileThatIsNotAReplica() throws {
        try withTemporaryDirectory { dir in
            let text = dir.appendingPathComponent("notes.sqlite")
            try Data(String(repeating: "Đây không phải là cơ sở dữ liệu.\n", count: 40).utf8).write(to: text)
            let error = thrown { _ = try ReplicaStore.open(at: text.path) }
            #expect(error.code == "not_a_replica", "\(error.message)")

            // An empty file is an empty SQLite database: no replica tables.
            let empty = dir.appendingPathComponent("empty.sqlite")
            try Data().write(to: empty)
            let emptyError = thrown { _ = try ReplicaStore.open(at: empty.path) }
            #expect(emptyError.code == "not_a_replica", "\(emptyError.message)")
            #expect(emptyError.message.contains("empty.sqlite"))
        }
    }

    @Test func storesAreIndependent() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(try a.operationCount() == 1)
            #expect(try b.operationCount() == 0)
        }
    }

    @Test func upsertedUnitsAreListedAfterThePlansAndPersist() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let path = dir.appendingPathComponent("dev-a.sqlite").path
            let store = try ReplicaStore.create(at: path, device: "dev-a", plan: builtInPlan, clock: clock.read)
            try store.upsertUnits([
                Plan.Unit(id: "phuong-na-lay", name: "Phu\u{031B}o\u{031B}\u{0300}ng Na Lay", kind: .self, parent: "muong-lay"),
                Plan.Unit(id: "bv-muong-ang", name: "Bệnh viện", kind: .self, parent: "muong-ang"),
            ])
            let ids = store.units.map(\.id)
            #expect(ids == builtInPlan.units.map(\.id) + ["bv-muong-ang", "phuong-na-lay"])
            #expect(scalars(store.units.last!.name) == scalars("Phường Na Lay".precomposedStringWithCanonicalMapping))
            #expect(store.unitsWithDescendants(of: ["muong-lay"]) == ["muong-lay", "phuong-na-lay"])
            try store.set(unit: "phuong-na-lay", item: "I.1", field: "status", value: "done")
            #expect(try ReplicaStore.open(at: path, clock: clock.read).units.map(\.id) == ids)
            #expect(thrown { try store.upsertUnits([Plan.Unit(id: "x", name: "X", kind: .self, parent: "nowhere")]) }.code == "not_found")
            #expect(thrown { try store.upsertUnits([Plan.Unit(id: "Bad Id", name: "X", kind: .self)]) }.code == "unknown_unit")
        }
    }
}

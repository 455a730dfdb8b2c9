import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import Testing
@testable import InspectorTestSupport

/// Batches delivered one to three times, shuffled, stale ones after newer ones: the hub
/// (`HubStore.push`) and a device (`ReplicaStore.merge` of pulled batches) end exactly as with
/// exactly-once, in-order delivery.
@Suite("Duplicated and reordered delivery equals exactly-once in-order delivery")
struct DeliveryOrderTests {
    static let seeds = faultSeeds("DeliveryOrderTests", count: 100)
    static let devices = ["dev-a", "dev-b", "dev-c"]

    @Test(arguments: seeds)
    func shuffledDuplicatedDeliveryEqualsInOrder(seed: UInt64) async throws {
        var rng = FaultRNG(seed: seed)
        let label = "seed \(seed) (INSPECTOR_FAULT_SEED=\(seed))"
        let directory = TemporaryDirectory()
        let clock = ShiftableClock(fixed: fixedHubTime)

        // Each device's operations, cut into push batches.
        var batches: [String: [[Op]]] = [:]
        var allOps: [Op] = []
        for device in Self.devices {
            let store = try ReplicaStore.create(at: directory.path("\(device).sqlite"), device: device, plan: builtInPlan, clock: clock.closure)
            var ops: [Op] = []
            for _ in 0..<rng.int(1...25) {
                clock.shift(by: Int64(rng.int(-3...5)))
                ops.append(try FaultEdits.edit(store, &rng))
            }
            allOps += ops
            var cut: [[Op]] = []
            var rest = ops[...]
            while !rest.isEmpty {
                let size = rng.int(1...4)
                cut.append(Array(rest.prefix(size)))
                rest = rest.dropFirst(size)
            }
            batches[device] = cut
        }

        // The reference: exactly once, in order.
        let reference = try HubStore.create(at: directory.path("reference.sqlite"), plan: builtInPlan, clock: { fixedHubTime })
        let subject = try HubStore.create(at: directory.path("subject.sqlite"), plan: builtInPlan, clock: { fixedHubTime })
        for device in Self.devices + ["dev-z"] {
            _ = try reference.addDevice(device, units: ["muong-lay"], name: nil)
            _ = try subject.addDevice(device, units: ["muong-lay"], name: nil)
        }
        for device in Self.devices {
            let record = try #require(try await reference.device(device))
            var confirmed: Int64 = 0
            for batch in batches[device]! {
                let pushed = try await reference.push(Message.Push(ops: batch, withdrawn: []), from: record, scope: ["muong-lay"])
                #expect(pushed.applied == batch.count && pushed.duplicates == 0, "\(label)")
                #expect(pushed.confirmed == batch.last!.sequence, "\(label)")
                confirmed = pushed.confirmed
            }
            #expect(confirmed == Int64(batches[device]!.joined().count), "\(label)")
        }

        // The subject: every batch one to three times, all devices interleaved, shuffled; then a stale copy of each device's first batch.
        var deliveries: [(device: String, ops: [Op])] = []
        for device in Self.devices {
            for batch in batches[device]! {
                for _ in 0..<rng.int(1...3) { deliveries.append((device, batch)) }
            }
        }
        deliveries.shuffle(using: &rng)
        for device in Self.devices { deliveries.append((device, batches[device]!.first!)) }
        var applied: [String: Int] = [:]
        var lastConfirmed: [String: Int64] = [:]
        var staleAfterNewer = 0
        for delivery in deliveries {
            let record = try #require(try await subject.device(delivery.device))
            let pushed = try await subject.push(Message.Push(ops: delivery.ops, withdrawn: []), from: record, scope: ["muong-lay"])
            #expect(pushed.applied + pushed.duplicates == delivery.ops.count, "\(label)")
            #expect(pushed.confirmed >= lastConfirmed[delivery.device] ?? 0, "\(label): the confirmed number went back")
            if pushed.duplicates == delivery.ops.count && pushed.confirmed >= delivery.ops.last!.sequence { staleAfterNewer += 1 }
            // The confirmed number is the contiguous prefix held, never more.
            let held = Set(try subject.replica.operations(device: delivery.device).map(\.operation.sequence))
            #expect((1...max(1, pushed.confirmed)).allSatisfy { held.contains($0) } || pushed.confirmed == 0, "\(label): confirmed #\(pushed.confirmed) with a gap")
            #expect(!held.contains(pushed.confirmed + 1), "\(label): confirmed #\(pushed.confirmed) although #\(pushed.confirmed + 1) is held")
            lastConfirmed[delivery.device] = pushed.confirmed
            applied[delivery.device, default: 0] += pushed.applied
        }
        #expect(staleAfterNewer >= Self.devices.count, "\(label): no stale batch came after a newer one")
        for device in Self.devices {
            let total = batches[device]!.joined().count
            #expect(applied[device] == total, "\(label): \(device)'s operations were applied \(applied[device] ?? 0) times in all, not \(total)")
            #expect(try await subject.confirmed(device: device) == (try await reference.confirmed(device: device)), "\(label)")
            #expect(try await subject.confirmed(device: device) == Int64(total), "\(label)")
        }
        #expect(try subject.replica.operationCount() == allOps.count, "\(label)")
        let expectedHub = try await reference.dataset().canonicalJSON()
        #expect(try await subject.dataset().canonicalJSON() == expectedHub, "\(label): the hub's dataset depends on the delivery order")
        var model = MergeState()
        for op in allOps { model.apply(op) }
        #expect(model.dataset(plan: builtInPlan, units: reference.replica.units).canonicalJSON() == expectedHub, "\(label): the hub differs from MergeState")

        // The device side: dev-z (with a few edits of its own) merges the pulled `ops` batches, duplicated and shuffled.
        let zClock = ShiftableClock(fixed: fixedHubTime + 2)
        let inOrder = try ReplicaStore.create(at: directory.path("z-in-order.sqlite"), device: "dev-z", plan: builtInPlan, clock: zClock.closure)
        let shuffled = try ReplicaStore.create(at: directory.path("z-shuffled.sqlite"), device: "dev-z", plan: builtInPlan, clock: zClock.closure)
        let ownCount = rng.int(0...4)
        var ownRNG = FaultRNG(seed: seed ^ 0x5A5A)
        var ownRNG2 = ownRNG
        for _ in 0..<ownCount {
            let first = try FaultEdits.edit(inOrder, &ownRNG)
            let second = try FaultEdits.edit(shuffled, &ownRNG2)
            try #require(first == second, "\(label): the two dev-z replicas diverged before any merge")
        }
        var pulled: [Message.OpsBatch] = []
        var cursor: Int64 = 0
        while true {
            let batch = try await reference.pull(after: cursor, limit: rng.int(1...6), for: "dev-z", scope: ["muong-lay"])
            pulled.append(batch)
            cursor = batch.cursor
            if !batch.more { break }
        }
        var pulledApplied = 0
        for batch in pulled {
            pulledApplied += try inOrder.merge(batch.ops, pullCursor: batch.cursor).applied
        }
        #expect(pulledApplied == allOps.count, "\(label)")
        var redelivered: [[Op]] = []
        for batch in pulled { for _ in 0..<rng.int(1...3) { redelivered.append(batch.ops.shuffled(using: &rng)) } }
        redelivered.shuffle(using: &rng)
        redelivered.append(pulled.first!.ops)
        var shuffledApplied = 0
        for ops in redelivered { shuffledApplied += try shuffled.merge(ops).applied }
        #expect(shuffledApplied == allOps.count, "\(label): pulled operations were applied \(shuffledApplied) times in all, not \(allOps.count)")
        #expect(try shuffled.operationCount() == allOps.count + ownCount, "\(label)")
        let expectedDevice = try inOrder.dataset(unitIDs: ["muong-lay"]).canonicalJSON()
        #expect(try shuffled.dataset(unitIDs: ["muong-lay"]).canonicalJSON() == expectedDevice, "\(label): the device's dataset depends on the delivery order")
        for op in try inOrder.operations(device: "dev-z").map(\.operation) { model.apply(op) }
        let deviceDataset = try inOrder.dataset(unitIDs: ["muong-lay"])
        #expect(model.dataset(plan: builtInPlan, units: deviceDataset.units).canonicalJSON() == deviceDataset.canonicalJSON(),
                "\(label): the device differs from MergeState")
    }
}

import Foundation
import InspectorCore
import InspectorStore
import Testing

@Suite struct ReplicaStoreHeldBackTests {
    func pulled(_ op: Op) -> ReplicaStore.PulledOp {
        ReplicaStore.PulledOp(op: op, json: "{\"d\":\"\(op.device)\",\"s\":\(op.sequence)}")
    }

    @Test func opsTheDeviceCannotStoreAreHeldBackAndTheRestFlows() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let source = try makeStore(in: dir, device: "dev-b", clock: clock)
            let device = try makeStore(in: dir, device: "dev-a", clock: clock)
            let first = try await source.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            var unknownUnit = try await source.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
            unknownUnit.unit = "muong-lay.xa-moi"
            var badValue = try await source.set(unit: "muong-lay", item: "II.4", field: "note", value: "Ghi chú")
            badValue.value = "Ghi chú "  // not canonical: surrounding white space
            var ahead = try await source.set(unit: "muong-lay", item: "II.5", field: "fund_percent", value: "10")
            ahead.timestamp.millis += dayMillis
            let last = try await source.set(unit: "muong-lay", item: "II.6.c", field: "staff_count", value: "3")
            let unreadable = ReplicaStore.HeldBackOp(device: "dev-b", sequence: 9, json: "{\"k\":\"photo\"}", code: "bad_message", message: "unknown kind")
            let result = try await device.mergePulled([first, unknownUnit, badValue, ahead, last].map(pulled), unreadable: [unreadable],
                                                      cursor: 5)
            #expect(result.merge.applied == 2)
            #expect(result.heldBack.map(\.sequence) == [2, 3, 4, 9])
            #expect(result.heldBack.map(\.code) == ["unknown_unit", "invalid_value", "clock_ahead", "bad_message"])
            let savedCursor = try await device.syncState().pullCursor
            #expect(savedCursor == 5)
            #expect(try device.operationCount() == 2)
            #expect(try await device.heldBackOperations().count == 4)
            // The same batch pulled again (after a cut) holds each op back once.
            _ = try await device.mergePulled([first, unknownUnit].map(pulled), cursor: 5)
            let heldAgain = try await device.heldBackOperations()
            #expect(heldAgain.count == 4)

            // Once the unit arrives (a new welcome), the op is stored; the others stay, with their reasons.
            try device.upsertUnits([Plan.Unit(id: "muong-lay.xa-moi", name: "UBND xã mới", kind: .direct, parent: "muong-lay")])
            let held = try await device.heldBackOperations()
            let decoded = Dictionary(uniqueKeysWithValues: held.compactMap { entry -> (Int64, Op)? in
                switch entry.sequence {
                case 2: (entry.id, unknownUnit)
                case 3: (entry.id, badValue)
                default: nil
                }
            })
            #expect(try await device.retryHeldBack(decoded) == 1)
            let left = try await device.heldBackOperations()
            #expect(left.map(\.sequence) == [3, 4, 9])
            #expect(try device.dataset().values.contains { $0.unit == "muong-lay.xa-moi" && $0.current.value == "tot" })
        }
    }

    @Test func aPulledOpConflictingWithAHeldOneIsHeldBackWithTheRetractionsOfItsFinding() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let source = try makeStore(in: dir, device: "dev-b", clock: clock)
            let device = try makeStore(in: dir, device: "dev-a", clock: clock)
            let add = try await source.addFinding(unit: "muong-lay", item: "II.3", kind: .observation, text: "Bản gốc")
            _ = try await device.mergePulled([pulled(add)], cursor: nil)
            var forged = add
            forged.value = "Bản khác"
            let retract = Op.findingRetract(device: "dev-c", sequence: 1, timestamp: HLCTimestamp(millis: add.timestamp.millis, counter: 0, device: "dev-c"), unit: "muong-lay", item: "II.4",
                                            finding: add.finding!, reason: "Nhầm")
            let result = try await device.mergePulled([pulled(forged), pulled(retract)], cursor: 3)
            #expect(result.heldBack.map(\.code) == ["conflicting_op", "retraction_mismatch"])
            #expect(try device.dataset().findings.first?.text == "Bản gốc")
            let savedCursor = try await device.syncState().pullCursor
            #expect(savedCursor == 3)
        }
    }
}

import Foundation
import InspectorCore
import InspectorStore
import Testing

/// Restoring a replica's own operations from a copy of its log (`ReplicaStore+Restore.swift`).
@Suite struct ReplicaStoreRestoreTests {
    @Test func aReplicaCreatedAfreshTakesBackItsOwnLogAndGoesOnAfterIt() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let lost = try makeStore(in: dir, device: "dev-a", clock: clock, name: "lost")
            try lost.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            try lost.addFinding(unit: "muong-lay", item: "II.4", kind: .observation, text: "Hồ sơ đầy đủ")
            try lost.retractFinding("dev-a/2", reason: "Ghi nhầm mục")
            let copy = try lost.operations().map(\.operation)

            let fresh = try makeStore(in: dir, device: "dev-a", clock: clock, name: "fresh")
            #expect(thrown { try fresh.merge(copy) }.code == "own_operation", "a merge never takes own ops")
            // In any order, all at once; again, as duplicates.
            #expect(try fresh.restoreOwnOperations(copy.reversed()) == ReplicaStore.MergeResult(applied: 3, duplicates: 0, newConflicts: 0))
            #expect(try fresh.restoreOwnOperations(copy).duplicates == 3)
            #expect(try fresh.dataset().canonicalJSON() == (try lost.dataset().canonicalJSON()))
            // The next edit takes the next number, stamped after the restored ones.
            let next = try fresh.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            #expect(next.sequence == 4 && next.timestamp > copy[2].timestamp)
            // The restored ops have left the device once: a handshake's offset does not restamp them.
            #expect(try fresh.correctUnsentTimestamps(by: -3_600_000, confirmed: 0) <= 1)
            #expect(try fresh.operations().map(\.operation).prefix(3).elementsEqual(copy))
        }
    }

    @Test func aGapAnotherDevicesOpOrABrokenRuleRestoresNothing() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let lost = try makeStore(in: dir, device: "dev-a", clock: clock, name: "lost")
            for value in ["not_started", "in_progress", "done"] {
                try lost.set(unit: "muong-lay", item: "II.4", field: "status", value: value)
            }
            let copy = try lost.operations().map(\.operation)
            let fresh = try makeStore(in: dir, device: "dev-a", clock: clock, name: "fresh")
            let before = try fresh.dataset().canonicalJSON()

            let gap = thrown { try fresh.restoreOwnOperations([copy[0], copy[2]]) }
            #expect(gap.code == "own_operation" && gap.message.contains("dev-a#3") && gap.message.contains("go on at 2"), "\(gap)")
            let last = Op.set(device: "dev-a", sequence: .max, timestamp: copy[0].timestamp, unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(thrown { try fresh.restoreOwnOperations([last]) }.code == "own_operation")
            let other = try makeStore(in: dir, device: "dev-b", clock: clock, name: "other")
            let foreign = try other.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            let refused = thrown { try fresh.restoreOwnOperations([copy[0], foreign]) }
            #expect(refused.code == "invalid_device_id" && refused.message.contains("dev-b#1"), "\(refused)")
            let unknown = Op.set(device: "dev-a", sequence: 1, timestamp: copy[0].timestamp, unit: "no-such-unit", item: "II.4", field: "status", value: "done")
            #expect(thrown { try fresh.restoreOwnOperations([unknown]) }.code == "unknown_unit")
            #expect(try fresh.operationCount() == 0)
            #expect(try fresh.dataset().canonicalJSON() == before)
        }
    }
}

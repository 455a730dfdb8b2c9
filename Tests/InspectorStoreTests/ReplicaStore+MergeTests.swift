import Foundation
import InspectorCore
import InspectorProtocol
@testable import InspectorStore
import Testing

@Suite struct ReplicaStoreMergeTests {
    @Test func mergeAppliesThenSkipsDuplicates() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            try a.addFinding(unit: "muong-lay", item: "II.4", kind: .observation, text: "Hồ sơ đầy đủ")
            try a.retractFinding("dev-a/2", reason: "Ghi nhầm mục")
            let ops = try a.operations().map(\.operation)

            let first = try b.merge(ops)
            #expect(first == ReplicaStore.MergeResult(applied: 3, duplicates: 0, newConflicts: 0))
            let json = try b.dataset().canonicalJSON()
            #expect(json == (try a.dataset().canonicalJSON()))

            let again = try b.merge(ops.reversed())
            #expect(again == ReplicaStore.MergeResult(applied: 0, duplicates: 3, newConflicts: 0))
            #expect(try b.operationCount() == 3)
            #expect(try b.dataset().canonicalJSON() == json)

            // Duplicates inside one batch count once.
            let c = try makeStore(in: dir, device: "dev-c", clock: clock)
            #expect(try c.merge(ops + ops) == ReplicaStore.MergeResult(applied: 3, duplicates: 3, newConflicts: 0))
            // A replica's own operations coming back are duplicates too.
            #expect(try a.merge(ops).duplicates == 3)
        }
    }

    @Test func newConflictsAreCountedOnce() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            let c = try makeStore(in: dir, device: "dev-c", clock: clock)
            try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            try b.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            try b.set(unit: "muong-lay", item: "II.4", field: "status", value: "not_applicable")
            try c.set(unit: "muong-lay", item: "II.4", field: "status", value: "not_started")
            #expect(try a.merge(b.operations().map(\.operation)).newConflicts == 1)
            #expect(try a.merge(c.operations().map(\.operation)).newConflicts == 0)
            #expect(try a.dataset().conflicts.first?.losers.count == 2)
        }
    }

    @Test func conflictingIdentityRefusesTheWholeBatch() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            let original = try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            try b.merge([original])
            let before = try b.dataset().canonicalJSON()
            let count = try b.operationCount()

            var forged = original
            forged.value = "not_started"
            let fresh = Op.set(device: "dev-a", sequence: 2, timestamp: HLCTimestamp(millis: baseMillis + 5, counter: 0, device: "dev-a"),
                               unit: "muong-ang", item: "I.1", field: "status", value: "done")
            let error = thrown { try b.merge([fresh, forged]) }
            #expect(error.code == "conflicting_op")
            #expect(error.message.contains("dev-a#1"))
            #expect(try b.operationCount() == count)
            #expect(try b.lastSequence(of: "dev-a") == 1)
            #expect(try b.dataset().canonicalJSON() == before)
            // Same identity, another timestamp: also a different operation.
            var restamped = original
            restamped.timestamp.counter += 1
            #expect(thrown { try b.merge([restamped]) }.code == "conflicting_op")
        }
    }

    static let invalidOps: [(name: String, code: String, op: Op)] = {
        let t = HLCTimestamp(millis: baseMillis, counter: 0, device: "dev-x")
        return [
            ("unknown unit", "unknown_unit", .set(device: "dev-x", sequence: 2, timestamp: t, unit: "muong-xyz", item: "I.1", field: "status", value: "done")),
            ("unknown item", "unknown_item", .set(device: "dev-x", sequence: 2, timestamp: t, unit: "muong-lay", item: "IV.1", field: "status", value: "done")),
            ("unknown field", "unknown_field", .set(device: "dev-x", sequence: 2, timestamp: t, unit: "muong-lay", item: "I.1", field: "colour", value: "done")),
            ("invalid value", "invalid_value", .set(device: "dev-x", sequence: 2, timestamp: t, unit: "muong-lay", item: "I.1", field: "status", value: "xong")),
            ("non-canonical value", "invalid_value", .set(device: "dev-x", sequence: 2, timestamp: t, unit: "muong-lay", item: "II.5", field: "fund_percent", value: "12,5")),
            ("bad shape", "malformed_operation", .set(device: "dev-x", sequence: 0, timestamp: t, unit: "muong-lay", item: "I.1", field: "status", value: "done")),
            ("not NFC", "malformed_operation", .findingAdd(device: "dev-x", sequence: 2, timestamp: t, unit: "muong-lay", item: nil, kind: .observation, text: "Mu\u{031B}o\u{031B}\u{0300}ng")),
            ("padded text", "invalid_text", .findingAdd(device: "dev-x", sequence: 2, timestamp: t, unit: "muong-lay", item: nil, kind: .observation, text: " x ")),
        ]
    }()

    @Test(arguments: 0..<invalidOps.count)
    func invalidOperationRefusesTheWholeBatch(index: Int) throws {
        let (name, code, invalid) = Self.invalidOps[index]
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            try b.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            let before = try b.dataset().canonicalJSON()
            let valid = Op.set(device: "dev-y", sequence: 1, timestamp: HLCTimestamp(millis: baseMillis + 9 * dayMillis, counter: 0, device: "dev-y"),
                               unit: "muong-lay", item: "II.4", field: "status", value: "done")
            let error = thrown { try b.merge([valid, invalid]) }
            #expect(error.code == code, "\(name): \(error.message)")
            #expect(try b.operationCount() == 1, "\(name)")
            #expect(try b.dataset().canonicalJSON() == before, "\(name)")
            // The clock did not move either: the refused batch's far-future timestamp left no trace.
            let next = try b.set(unit: "muong-lay", item: "II.4", field: "note", value: "sau")
            #expect(next.timestamp.millis == baseMillis, "\(name)")
        }
    }

    @Test func mergeWritesMetaInTheSameTransaction() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            try b.merge(a.operations().map(\.operation), pullCursor: 1)
            #expect(try b.syncState().pullCursor == 1)
            var bad = try a.operations()[0].operation
            bad.value = "xong"
            _ = thrown { try b.merge([bad], pullCursor: 2) }
            #expect(try b.syncState().pullCursor == 1)
        }
    }

    @Test func receivingAdvancesTheClock() throws {
        try withTemporaryDirectory { dir in
            let localClock = ManualClock(baseMillis)
            let remoteClock = ManualClock(baseMillis + 9 * 60_000)  // ahead, within the 10-minute tolerance
            let local = try makeStore(in: dir, device: "dev-a", clock: localClock)
            let remote = try makeStore(in: dir, device: "dev-b", clock: remoteClock)
            let theirs = try remote.set(unit: "muong-lay", item: "II.4", field: "status", value: "not_applicable")
            #expect(try local.merge([theirs]).applied == 1)

            localClock.advance(by: 1)
            let mine = try local.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(mine.timestamp > theirs.timestamp)
            #expect(mine.timestamp.millis == theirs.timestamp.millis)
            let current = try local.dataset().values.first { $0.field == "status" }
            #expect(current?.current.value == "done")
            #expect(current?.current.device == "dev-a")

            // The clock survives a reopen.
            let reopened = try ReplicaStore.open(at: dir.appendingPathComponent("dev-a.sqlite").path, clock: localClock.read)
            let after = try reopened.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            #expect(after.timestamp > mine.timestamp)

            // And the remote, once it has our edits, agrees.
            try remote.merge(reopened.operations().map(\.operation))
            #expect(try remote.dataset().canonicalJSON() == (try reopened.dataset().canonicalJSON()))
            #expect(try remote.dataset().values.first { $0.field == "status" }?.current.value == "in_progress")
        }
    }

    @Test func retractionArrivingBeforeItsFindingAppliesOnceTheFindingArrives() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            let c = try makeStore(in: dir, device: "dev-c", clock: clock)
            let add = try a.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Thiếu hồ sơ")
            try b.merge([add])
            clock.advance(by: 100)
            let retract = try b.retractFinding(add.finding!, reason: "Đã bổ sung")
            try c.merge([retract])
            #expect(try c.dataset().findings.isEmpty)
            try c.merge([add])
            #expect(try c.dataset().findings.first?.retraction?.value == "Đã bổ sung")
            try a.merge([retract])
            #expect(try a.dataset().canonicalJSON() == (try c.dataset().canonicalJSON()))
        }
    }

    @Test func mergingUnitsNotKnownLocallyIsRefused() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            try a.upsertUnits([Plan.Unit(id: "phuong-na-lay", name: "Phường Na Lay", kind: .self, parent: "muong-lay")])
            let op = try a.set(unit: "phuong-na-lay", item: "I.1", field: "status", value: "done")
            #expect(thrown { try b.merge([op]) }.code == "unknown_unit")
            try b.upsertUnits([Plan.Unit(id: "phuong-na-lay", name: "Phường Na Lay", kind: .self, parent: "muong-lay")])
            #expect(try b.merge([op]).applied == 1)
        }
    }

    @Test func opsStampedBeyondTheToleranceAreRefusedAndChangeNothing() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock(baseMillis)
            let local = try makeStore(in: dir, device: "dev-a", clock: clock)
            let before = try local.dataset().canonicalJSON()
            for t in [baseMillis + HybridLogicalClock.futureTolerance + 1, baseMillis + 10 * dayMillis, HLCTimestamp.validMillis.upperBound] {
                let op = Op.set(device: "dev-b", sequence: 1, timestamp: HLCTimestamp(millis: t, counter: 0, device: "dev-b"),
                                unit: "muong-lay", item: "II.4", field: "status", value: "done")
                let error = thrown { try local.merge([op]) }
                #expect(error.code == "clock_ahead", "\(error)")
                #expect(error.message.contains("dev-b#1"), "\(error)")
            }
            #expect(try local.operationCount() == 0)
            #expect(try local.dataset().canonicalJSON() == before)
            // At the tolerance exactly, it is taken.
            let edge = Op.set(device: "dev-b", sequence: 1, timestamp: HLCTimestamp(millis: baseMillis + HybridLogicalClock.futureTolerance, counter: 0, device: "dev-b"),
                              unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(try local.merge([edge]).applied == 1)
        }
    }

    @Test func aRetractionNamingAHeldFindingOfAnotherUnitIsRefused() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let b = try makeStore(in: dir, device: "dev-b", clock: clock)
            let add = try a.addFinding(unit: "so-y-te", item: "II.3", kind: .observation, text: "Hồ sơ đầy đủ")
            try b.merge([add])
            for (unit, item) in [("muong-lay", "II.3"), ("so-y-te", "II.4"), ("muong-lay", nil)] as [(String, String?)] {
                let forged = Op.findingRetract(device: "dev-c", sequence: 1, timestamp: HLCTimestamp(millis: add.timestamp.millis, counter: 0, device: "dev-c"), unit: unit, item: item,
                                               finding: add.finding!, reason: "Nhầm")
                let error = thrown { try b.merge([forged]) }
                #expect(error.code == "retraction_mismatch", "\(unit) \(String(describing: item)): \(error)")
            }
            #expect(try b.dataset().findings.first?.retraction == nil)
        }
    }
    @Test func anOpUnderTheReplicasOwnIdThatItNeverRecordedIsRefused() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            let mine = try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            let before = try a.dataset().canonicalJSON()
            // Forged under dev-a's id: the next number, one far ahead, and the last number there is.
            for sequence in [mine.sequence + 1, 1_000, Int64.max] {
                let forged = Op.set(device: "dev-a", sequence: sequence, timestamp: HLCTimestamp(millis: mine.timestamp.millis, counter: 1, device: "dev-a"),
                                    unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
                let error = thrown { try a.merge([forged]) }
                #expect(error.code == "own_operation", "\(sequence): \(error)")
                #expect(error.message.contains("dev-a#\(sequence)"), "\(error)")
            }
            #expect(try a.operationCount() == 1)
            #expect(try a.dataset().canonicalJSON() == before)
            // Its own op coming back is a duplicate, and it goes on recording its own numbers.
            #expect(try a.merge([mine]).duplicates == 1)
            #expect(try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress").sequence == mine.sequence + 1)
        }
    }
}

/// The last guard of the log (`ReplicaStore.insert`): every caller checks ops first, so only a
/// direct call can bring a timestamp outside the valid range; it is refused, and nothing is written.
@Suite struct ReplicaStoreInsertGuardTests {
    @Test("an op whose timestamp is outside the valid range is refused with invalid_op, nothing written", arguments: [
        (Int64.max, Int64(0)), (Int64(-1), Int64(0)), (Int64(1_718_845_320_000), Int64(65_536)), (Int64(253_402_300_800_000), Int64(0)),
    ])
    func outOfRangeTimestamp(_ millis: Int64, _ counter: Int64) throws {
        try withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            let op = Op.set(device: "dev-b", sequence: 1, timestamp: HLCTimestamp(millis: millis, counter: counter, device: "dev-b"),
                            unit: "muong-lay", item: "II.4", field: "status", value: "done")
            do {
                try store.writer.write { db in try ReplicaStore.insert(op, into: db, using: store.makeWriters(db)) }
                Issue.record("an op stamped \(millis)/\(counter) was written")
            } catch let error as StoreError {
                #expect(error.code == .invalidOp && error.sequence == 1, "\(error)")
            }
            #expect(try store.operationCount() == 0)
            #expect(try store.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM names") } == 0, "no name was given either")
        }
    }
}

import Foundation
import GRDB
import InspectorCore
import InspectorStore
import Testing

/// The conflict ledger a page at a time (`ReplicaStore+Conflicts.swift`): every conflicted field's
/// entry and the conflicts read by entry, each the same as the whole dataset says.
@Suite struct ReplicaStoreConflictsTests {
    /// Four devices set fields of two units at random, the replica's own device among them, and
    /// some of its own ops are set aside: the entries are the dataset's conflicts without their
    /// losers (same order, winner and count); the conflicts read by entry are the dataset's, in
    /// the order asked; an entry of a field nobody contests is left out; and the dataset without
    /// conflicts is the dataset with none.
    @Test(arguments: [5, 1181] as [UInt64])
    func entriesAndConflictsByEntryAgreeWithTheDataset(seed: UInt64) async throws {
        print("[entriesAndConflictsByEntryAgreeWithTheDataset] seed \(seed)")
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(baseMillis)
            let store = try makeStore(in: dir, device: "dev-x", clock: clock)
            var random = SplitMix64(seed: seed)
            var next: [String: Int64] = [:]
            var ops: [Op] = []
            let fields = [("II.4", "status", ["done", "in_progress", "not_started"]), ("II.5", "note", ["Đủ hồ sơ", "Thiếu biên bản", "Đã bổ sung"]),
                          ("I.1", "note", ["Có kế hoạch", "Chưa có"])]
            for _ in 0..<80 {
                let device = ["dev-a", "dev-b", "dev-c"][Int(random.next() % 3)]
                let sequence = (next[device] ?? 0) + 1
                next[device] = sequence
                let (item, field, values) = fields[Int(random.next() % UInt64(fields.count))]
                ops.append(.set(device: device, sequence: sequence,
                                timestamp: HLCTimestamp(millis: baseMillis - 100_000 + Int64(random.next() % 90_000), counter: 0, device: device),
                                unit: random.next() % 2 == 0 ? "so-y-te" : "muong-lay", item: item, field: field,
                                value: values[Int(random.next() % UInt64(values.count))]))
            }
            try store.merge(ops)
            // The replica's own edits, the latest of the day; some are set aside (refused by a hub).
            var own: [Op] = []
            for _ in 0..<8 {
                let (item, field, values) = fields[Int(random.next() % UInt64(fields.count))]
                own.append(try await store.set(unit: random.next() % 2 == 0 ? "so-y-te" : "muong-lay", item: item, field: field,
                                         value: values[Int(random.next() % UInt64(values.count))]))
                clock.advance(by: 10)
            }
            for op in own where random.next() % 2 == 0 {
                try store.setAside(ReplicaStore.SetAsideOp(sequence: op.sequence, code: "out_of_scope", message: "refused"))
            }
            let dataset = try store.dataset()
            #expect(dataset.conflicts.count >= 2)
            let entries = try await store.conflictEntries()
            #expect(entries == dataset.conflicts.map {
                ReplicaStore.ConflictEntry(unit: $0.unit, item: $0.item, field: $0.field, winner: $0.winner, loserCount: $0.losers.count)
            })
            #expect(try await store.conflicts(of: entries) == dataset.conflicts)
            var some = entries.filter { _ in random.next() % 2 == 0 }
            some.shuffle(using: &random)
            let byField = Dictionary(uniqueKeysWithValues: dataset.conflicts.map { ([$0.unit, $0.item, $0.field], $0) })
            let nobody = ReplicaStore.ConflictEntry(unit: "muong-lay", item: "II.3", field: "status", winner: dataset.conflicts[0].winner, loserCount: 1)
            let unknown = ReplicaStore.ConflictEntry(unit: "khong-co", item: "II.4", field: "status", winner: dataset.conflicts[0].winner, loserCount: 1)
            #expect(try await store.conflicts(of: [nobody] + some + [unknown]) == some.map { byField[[$0.unit, $0.item, $0.field]]! })
            #expect(try await store.conflicts(of: []).isEmpty)
            var withoutConflicts = dataset
            withoutConflicts.conflicts = []
            #expect(try await store.writer.read { db in try store.dataset(db, includingConflicts: false) } == withoutConflicts)
        }
    }

    /// A field set by the replica and one other device is a conflict until the replica's op is set
    /// aside: a device whose every op on the field is set aside holds no value there.
    @Test func aDeviceWhoseOpsAreAllSetAsideIsNoLoser() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(baseMillis)
            let store = try makeStore(in: dir, device: "dev-x", clock: clock)
            try store.merge([.set(device: "dev-a", sequence: 1, timestamp: HLCTimestamp(millis: baseMillis - 5_000, counter: 0, device: "dev-a"),
                                  unit: "muong-lay", item: "II.4", field: "status", value: "done")])
            let mine = try await store.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            let entry = try #require(try await store.conflictEntries().first)
            #expect(entry.winner.device == "dev-x" && entry.loserCount == 1)
            try store.setAside(ReplicaStore.SetAsideOp(sequence: mine.sequence, code: "out_of_scope", message: "refused"))
            #expect(try await store.conflictEntries().isEmpty)
            #expect(try await store.conflicts(of: [entry]).isEmpty)
            #expect(try store.dataset().conflicts.isEmpty)
        }
    }

    /// An entry read before a later op changed its field: its conflict is read as the replica holds
    /// it now, the new value in use and the old one among the losers.
    @Test func aConflictIsReadAsItIsNowNotAsItsEntrySaid() async throws {
        try await withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-x", clock: ManualClock(baseMillis))
            func set(_ device: String, _ sequence: Int64, at millis: Int64, _ value: String) -> Op {
                .set(device: device, sequence: sequence, timestamp: HLCTimestamp(millis: millis, counter: 0, device: device),
                     unit: "muong-lay", item: "II.4", field: "status", value: value)
            }
            try store.merge([set("dev-a", 1, at: baseMillis - 3_000, "done"), set("dev-b", 1, at: baseMillis - 2_000, "in_progress")])
            let entry = try #require(try await store.conflictEntries().first)
            #expect(entry.winner.value == "in_progress" && entry.loserCount == 1)
            try store.merge([set("dev-c", 1, at: baseMillis - 1_000, "not_started")])
            let conflict = try #require(try await store.conflicts(of: [entry]).first)
            #expect(conflict.winner.value == "not_started" && conflict.winner.device == "dev-c")
            #expect(conflict.losers.map(\.device) == ["dev-b", "dev-a"], "newest first")
            #expect(try await store.conflictEntries().first?.loserCount == 2)
        }
    }
}

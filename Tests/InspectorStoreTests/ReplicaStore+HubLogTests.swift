import Foundation
import InspectorCore
import InspectorStore
import Testing

/// The hub's queries of the log (`ReplicaStore+HubLog.swift`): pages of a pull, full and compact.
@Suite struct ReplicaStoreHubLogTests {
    /// A hub log of three devices writing three fields of two units, out of order: every page of a
    /// compact pull holds exactly the ops of `Op.superseded(among:)`'s complement, in log order, the
    /// count says how many, and a full pull holds them all.
    @Test(arguments: [11, 1181, 20241105] as [UInt64])
    func aCompactPullLeavesOutExactlyTheSupersededSetOps(seed: UInt64) async throws {
        print("[aCompactPullLeavesOutExactlyTheSupersededSetOps] seed \(seed)")
        try await withTemporaryDirectory { dir in
            let hub = try ReplicaStore.createHub(at: dir.appendingPathComponent("hub.sqlite").path, plan: builtInPlan,
                                                 durability: .normal, clock: ManualClock().read)
            var random = SplitMix64(seed: seed)
            let fields = [("II.4", "status", "done"), ("II.5", "fund_percent", "12.5"), ("I.1", "rating", "tot")]
            var next: [String: Int64] = [:]
            var ops: [Op] = []
            for _ in 0..<120 {
                let device = ["dev-a", "dev-b", "dev-c"][Int(random.next() % 3)]
                let sequence = (next[device] ?? 0) + 1
                next[device] = sequence
                let unit = random.next() % 4 == 0 ? "so-y-te" : "muong-lay"
                let stamp = HLCTimestamp(millis: baseMillis - 100_000 + Int64(random.next() % 50), counter: sequence, device: device)
                if random.next() % 5 == 0 {
                    ops.append(.findingAdd(device: device, sequence: sequence, timestamp: stamp, unit: unit, item: nil, kind: .observation, text: "ghi nhận \(sequence)"))
                } else {
                    let (item, field, value) = fields[Int(random.next() % 3)]
                    ops.append(.set(device: device, sequence: sequence, timestamp: stamp, unit: unit, item: item, field: field, value: value))
                }
            }
            // Arrive in batches of 10, each shuffled: an author's later value may sit before an earlier one.
            for start in stride(from: 0, to: ops.count, by: 10) {
                var batch = Array(ops[start..<min(start + 10, ops.count)])
                batch.shuffle(using: &random)
                try hub.merge(batch)
            }
            let log = try hub.operations().map(\.operation)
            let superseded = Op.superseded(among: log)
            #expect(!superseded.isEmpty)
            for compact in [true, false] {
                let expected = log.filter { $0.device != "dev-b" && $0.unit == "muong-lay" && !(compact && superseded.contains($0)) }
                var cursor: Int64 = 0
                var pulled: [Op] = []
                while true {
                    let page = try await hub.logBatch(after: cursor, limit: 7, units: ["muong-lay"], excluding: "dev-b", compact: compact,
                                                      byteBudget: 1 << 20, size: { _ in 1 })
                    pulled += page.ops
                    #expect(page.cursor >= cursor)
                    cursor = page.cursor
                    if !page.more { break }
                }
                #expect(pulled == expected, "compact: \(compact)")
                #expect(try await hub.logCount(after: 0, units: ["muong-lay"], excluding: "dev-b", compact: compact) == expected.count)
                #expect(cursor == Int64(log.count))
            }
        }
    }
}

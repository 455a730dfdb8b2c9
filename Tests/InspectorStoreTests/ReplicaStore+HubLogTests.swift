import Foundation
import GRDB
import InspectorCore
@testable import InspectorStore
import Testing

/// The hub's queries of the log (`ReplicaStore+HubLog.swift`): pages of a pull, full and compact.
@Suite struct ReplicaStoreHubLogTests {
    /// A hub log of three devices writing three fields of two units, out of order: every page of a
    /// compact pull holds exactly the ops of `Op.superseded(among:)`'s complement, in log order, the
    /// count says how many, and a full pull holds them all.
    @Test(arguments: [11, 1181, 20241105] as [UInt64])
    func aCompactPullLeavesOutExactlyTheSupersededSetOps(seed: UInt64) async throws {
        print("[aCompactPullLeavesOutExactlyTheSupersededSetOps] seed \(seed)")
        try await withHub { hub in
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

    /// Set-aside ops supersede nothing: when an author's latest value of a field is set aside, its
    /// value before is no longer superseded, and the count (a pass per field over the index) and
    /// the pages (a probe per op) agree with a model of PROTOCOL.md 11.6 on which ops a compact
    /// pull sends, from every cursor.
    @Test(arguments: [7, 1181] as [UInt64])
    func setAsideOpsSupersedeNothingInACompactPull(seed: UInt64) async throws {
        print("[setAsideOpsSupersedeNothingInACompactPull] seed \(seed)")
        try await withHub { hub in
            var random = SplitMix64(seed: seed)
            var ops: [Op] = []
            for sequence in 1...60 as ClosedRange<Int64> {
                for device in ["dev-a", "dev-c"] {
                    let stamp = HLCTimestamp(millis: baseMillis - 100_000 + Int64(random.next() % 40), counter: sequence, device: device)
                    let (item, field, value) = [("II.4", "status", "done"), ("I.1", "rating", "tot")][Int(random.next() % 2)]
                    ops.append(.set(device: device, sequence: sequence, timestamp: stamp, unit: "muong-lay", item: item, field: field, value: value))
                }
            }
            ops.shuffle(using: &random)
            try hub.merge(ops)
            let log = try hub.operations().map(\.operation)
            // Set aside every author's latest op on each field, and a third of the others.
            var latest: [String: Op] = [:]
            for op in log {
                let key = "\(op.device) \(op.item!) \(op.field!)"
                if let held = latest[key], held.timestamp > op.timestamp { continue }
                latest[key] = op
            }
            let latestOps = Set(latest.values)
            let setAside = Set(log.filter { latestOps.contains($0) || random.next() % 3 == 0 })
            try await hub.writer.write { db in
                for op in setAside {
                    try db.execute(sql: "UPDATE ops SET set_aside = 1 WHERE device = (SELECT id FROM names WHERE name = ?) AND seq = ?",
                                   arguments: [op.device, op.sequence])
                }
            }
            // The model: a set op is superseded when an op not set aside of its author on its field has a later clock.
            let kept = log.filter { !setAside.contains($0) }
            func isSuperseded(_ op: Op) -> Bool {
                kept.contains { $0.device == op.device && $0.item == op.item && $0.field == op.field
                    && ($0.timestamp.millis, $0.timestamp.counter) > (op.timestamp.millis, op.timestamp.counter) }
            }
            #expect(log.contains { isSuperseded($0) } && log.contains { setAside.contains($0) && !isSuperseded($0) })
            for cursor in [0, 1, 37, 119, 120] as [Int64] {
                let expected = log.dropFirst(Int(cursor)).filter { $0.device != "dev-b" && !isSuperseded($0) }
                var pulled: [Op] = []
                var next = cursor
                while true {
                    let page = try await hub.logBatch(after: next, limit: 9, units: ["muong-lay"], excluding: "dev-b", compact: true,
                                                      byteBudget: 1 << 20, size: { _ in 1 })
                    pulled += page.ops
                    next = page.cursor
                    if !page.more { break }
                }
                #expect(pulled == expected, "cursor \(cursor)")
                #expect(try await hub.logCount(after: cursor, units: ["muong-lay"], excluding: "dev-b", compact: true) == expected.count,
                        "cursor \(cursor)")
            }
        }
    }

    /// A compact pull's question ("does a later op of this author set this field?") is answered from
    /// the index `ops_by_field` alone, for each page and for the count a handshake sends: reading
    /// each op's table row made the count 1.5–1.85 s of a fresh device's handshake at 10⁶ ops
    /// (docs/performance.md).
    @Test func theCompactPullReadsOnlyTheFieldIndexForItsProbes() async throws {
        try await withHub { hub in
            func plan(_ query: String, limit: Bool = false) throws -> [String] {
                try hub.writer.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(query)",
                                     arguments: StatementArguments([0, "dev-b", "muong-lay", "so-y-te"] + (limit ? [10] : [])))
                        .map { $0["detail"] as String }
                }
            }
            // A page: one probe per op, on the index alone.
            let page = try plan("SELECT position FROM op_rows WHERE \(ReplicaStore.pullCondition(.view, units: 2, compact: true)) ORDER BY position LIMIT ?5", limit: true)
            let probes = page.filter { $0.contains(" later ") }
            #expect(probes.count == 1, "\(page)")
            #expect(probes.allSatisfy { $0.contains("USING COVERING INDEX ops_by_field") }, "\(page)")
            // The count: every read of `ops_by_field` (the pass per field, the seek per field) on the index alone.
            let count = try plan(ReplicaStore.compactCountSQL(units: 2))
            let reads = count.filter { $0.contains("ops_by_field") }
            #expect(reads.count == 2, "\(count)")
            #expect(reads.allSatisfy { $0.contains("USING COVERING INDEX ops_by_field") }, "\(count)")
        }
    }

    /// A fresh hub replica in a temporary directory.
    private func withHub(_ body: (ReplicaStore) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            try await body(try ReplicaStore.createHub(at: dir.appendingPathComponent("hub.sqlite").path, plan: builtInPlan,
                                                      durability: .normal, clock: ManualClock().read))
        }
    }
}

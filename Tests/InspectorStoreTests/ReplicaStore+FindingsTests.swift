import Foundation
import GRDB
import InspectorCore
import InspectorStore
import Testing

/// Findings a page at a time (`ReplicaStore+Findings.swift`): every finding's entry, findings read
/// by id, and the dataset without findings — each the same as the whole dataset says.
@Suite struct ReplicaStoreFindingsTests {
    /// Three authors' findings on two units, some with files, some retracted (one before its
    /// finding arrives): the entries are the dataset's findings without their texts, in its order;
    /// findings read by id are the dataset's, in the order asked, an unknown id left out; and the
    /// dataset without findings is the dataset with none.
    @Test(arguments: [3, 1181] as [UInt64])
    func entriesAndFindingsByIDAgreeWithTheDataset(seed: UInt64) async throws {
        print("[entriesAndFindingsByIDAgreeWithTheDataset] seed \(seed)")
        try await withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-x", clock: ManualClock())
            var random = SplitMix64(seed: seed)
            var next: [String: Int64] = [:]
            var ops: [Op] = []
            var added: [Op] = []
            func stamp(_ device: String) -> (Int64, HLCTimestamp) {
                let sequence = (next[device] ?? 0) + 1
                next[device] = sequence
                return (sequence, HLCTimestamp(millis: baseMillis - 100_000 + Int64(random.next() % 90_000), counter: sequence, device: device))
            }
            for index in 0..<60 {
                let device = ["dev-a", "dev-b", "dev-c"][Int(random.next() % 3)]
                let (sequence, time) = stamp(device)
                let unit = random.next() % 3 == 0 ? "so-y-te" : "muong-lay"
                let item: String? = random.next() % 4 == 0 ? nil : ["II.4", "II.5", "I.1"][Int(random.next() % 3)]
                let finding = Op.findingAdd(device: device, sequence: sequence, timestamp: time, unit: unit, item: item,
                                            kind: FindingKind.allCases[Int(random.next() % UInt64(FindingKind.allCases.count))],
                                            text: "Phát hiện số \(index) của \(device)")
                ops.append(finding)
                added.append(finding)
                if random.next() % 3 == 0 {
                    let (sequence, time) = stamp(device)
                    let hash = String(format: "%064x", random.next())
                    ops.append(.attachmentAdd(device: device, sequence: sequence, timestamp: time, unit: unit, item: item, finding: "\(device)/\(finding.sequence)",
                                              descriptor: try AttachmentDescriptor(hash: hash, size: 1000 + Int64(index), type: .jpeg, name: "ảnh \(index).jpg")))
                }
            }
            for finding in added where random.next() % 4 == 0 {
                let (sequence, time) = stamp(finding.device)
                let retraction = Op.findingRetract(device: finding.device, sequence: sequence, timestamp: time, unit: finding.unit, item: finding.item,
                                                   finding: "\(finding.device)/\(finding.sequence)", reason: "Ghi nhầm")
                // One retraction comes before its finding.
                if let position = ops.firstIndex(of: finding), random.next() % 5 == 0 { ops.insert(retraction, at: position) } else { ops.append(retraction) }
            }
            try store.merge(ops)
            let dataset = try store.dataset()
            #expect(dataset.findings.count == 60)
            #expect(dataset.findings.contains { $0.retraction != nil } && dataset.findings.contains { !$0.attachments.isEmpty })
            let entries = try await store.findingEntries()
            #expect(Array(entries) == dataset.findings.map {
                ReplicaStore.FindingEntry(id: $0.id, unit: $0.unit, item: $0.item, kind: $0.kind, device: $0.device,
                                          sequence: Int64($0.id.split(separator: "/").last!)!, isRetracted: $0.retraction != nil)
            })
            var ids = dataset.findings.map(\.id).filter { _ in random.next() % 2 == 0 }
            ids.shuffle(using: &random)
            let byID = Dictionary(uniqueKeysWithValues: dataset.findings.map { ($0.id, $0) })
            #expect(try await store.findings(ids: ids + ["dev-z/1"]) == ids.map { byID[$0]! })
            #expect(try await store.findings(ids: []).isEmpty)
            #expect(entries.allSatisfy { $0.id == "\($0.device)/\($0.sequence)" })
            let odd = ReplicaStore.FindingEntry(id: "khác", unit: "muong-lay", item: nil, kind: .observation, device: "dev-a", sequence: 1, isRetracted: false)
            #expect(odd.id == "khác", "an id that is not device/sequence is kept")
            var withoutFindings = dataset
            withoutFindings.findings = []
            #expect(try await store.writer.read { db in try store.dataset(db, includingFindings: false) } == withoutFindings)
        }
    }

    /// Findings stamped with the same clock by different devices, and by one device under two
    /// sequence numbers (a peer's lie): the entries keep the dataset's order (the device's name as
    /// bytes, then the id), and every entry names its unit, item and author.
    @Test func entriesOfFindingsAtTheSameTimeKeepTheDatasetsOrder() async throws {
        try await withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-x", clock: ManualClock())
            var ops: [Op] = []
            for (index, device) in ["dev-b", "dev-c", "dev-a", "dev-a2", "dev-a"].enumerated() {
                let sequence = Int64(ops.filter { $0.device == device }.count + (device == "dev-a" ? 9 : 1))
                ops.append(.findingAdd(device: device, sequence: sequence, timestamp: HLCTimestamp(millis: baseMillis - 1_000, counter: 7, device: device),
                                       unit: index % 2 == 0 ? "muong-lay" : "so-y-te", item: index == 3 ? nil : "II.4", kind: .observation,
                                       text: "Cùng thời điểm \(index)"))
            }
            try store.merge(ops)
            let dataset = try store.dataset()
            #expect(dataset.findings.count == 5)
            let entries = try await store.findingEntries()
            #expect(entries.map(\.id) == dataset.findings.map(\.id))
            #expect(entries.map(\.id) == ["dev-a/10", "dev-a/9", "dev-a2/1", "dev-b/1", "dev-c/1"])
            #expect(entries.map(\.unit) == dataset.findings.map(\.unit) && entries.map(\.item) == dataset.findings.map(\.item))
            #expect(entries.map(\.device) == dataset.findings.map(\.device))
        }
    }
}

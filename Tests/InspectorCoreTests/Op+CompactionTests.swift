import InspectorCore
import PropertyBased
import Testing

/// `Op.superseded(among:)`: what a compact pull leaves out (PROTOCOL.md 11.6) changes no state.
@Suite struct OpCompactionTests {
    @Test func onlyAnAuthorsEarlierValuesOfAFieldAreSuperseded() {
        let a1 = MergeStateTests.set("dev-a", 1, 100, value: "not_started")
        let a2 = MergeStateTests.set("dev-a", 2, 200, value: "in_progress")
        let b1 = MergeStateTests.set("dev-b", 1, 150, value: "done")
        let a3 = MergeStateTests.set("dev-a", 3, 50, 9, item: "II.5", field: "fund_percent", value: "12.5")
        let add = Op.findingAdd(device: "dev-a", sequence: 4, timestamp: ts(300, 0, "dev-a"), unit: "muong-lay", item: nil,
                                kind: .observation, text: "ghi nhận")
        // Out of log order: the later value first.
        #expect(Op.superseded(among: [a2, b1, a1, a3, add]) == [a1])
        #expect(Op.superseded(among: [a1]).isEmpty && Op.superseded(among: []).isEmpty)
        // The same millisecond: the counter decides.
        let c1 = MergeStateTests.set("dev-c", 1, 400, 0, value: "done")
        let c2 = MergeStateTests.set("dev-c", 2, 400, 1, value: "in_progress")
        #expect(Op.superseded(among: [c2, c1]) == [c1])
    }

    /// Over random logs of three devices writing three fields (ties broken by counter and device)
    /// with findings between: leaving out the superseded ops leaves the dataset, conflicts included,
    /// byte for byte the same.
    @Test func leavingOutTheSupersededChangesNoDataset() async {
        let opGen = zip(Gen.int(in: 0...2), Gen.int64(in: 0...5), Gen.int(in: 0...2), Gen.int(in: 0...2))
        await propertyCheck(count: 250, input: opGen.array(of: 1...30)) { specs in
            Self.check(specs)
        }
    }

    static func check(_ specs: [(Int, Int64, Int, Int)]) {
        let ops = MergeStateTests.ops(from: specs)
        let superseded = Op.superseded(among: ops)
        #expect(superseded.allSatisfy { $0.kind == .set })
        let compact = ops.filter { !superseded.contains($0) }
        let full = MergeStateTests.dataset(ops).canonicalJSON()
        #expect(MergeStateTests.dataset(compact).canonicalJSON() == full)
        // Nothing of the compact log is superseded any more, and an old value arriving later changes nothing.
        #expect(Op.superseded(among: compact).isEmpty)
        #expect(MergeStateTests.dataset(compact + superseded.prefix(3)).canonicalJSON() == full)
    }
}

import InspectorCore
import PropertyBased
import Testing

@Suite struct MergeStateTests {
    static func set(_ device: String, _ seq: Int64, _ millis: Int64, _ counter: Int64 = 0, unit: String = "muong-lay",
                    item: String = "II.4", field: String = "status", value: String) -> Op {
        .set(device: device, sequence: seq, timestamp: ts(millis, counter, device), unit: unit, item: item, field: field, value: value)
    }

    /// Ops of three devices writing three fields from generated `(device, millis, field, value)`
    /// specs; the third value of a field also adds a finding.
    static func ops(from specs: [(Int, Int64, Int, Int)]) -> [Op] {
        let devices = ["dev-a", "dev-b", "dev-c"]
        let fields = [("II.4", "status", ["not_started", "in_progress", "done"]), ("II.5", "fund_percent", ["1", "12.5", "100"]),
                      ("I.1", "rating", ["tot", "kha", "yeu"])]
        var next = [String: Int64]()
        var ops: [Op] = []
        for (d, millis, f, v) in specs {
            let device = devices[d]
            let seq = (next[device] ?? 0) + 1
            next[device] = seq
            let (item, field, values) = fields[f]
            ops.append(Self.set(device, seq, millis, seq, item: item, field: field, value: values[v]))
            if v == 2 {
                let add = Op.findingAdd(device: device, sequence: seq + 1, timestamp: ts(millis, seq + 1, device),
                                        unit: "muong-ang", item: nil, kind: .observation, text: "ghi nhận \(seq)")
                next[device] = seq + 1
                ops.append(add)
            }
        }
        return ops
    }

    static func dataset(_ ops: [Op]) -> Dataset {
        var state = MergeState()
        for op in ops { state.apply(op) }
        return state.dataset(plan: builtInPlan, units: planUnits)
    }

    @Test func applyReportsDuplicatesAndConflictingIdentities() {
        var state = MergeState()
        let op = Self.set("dev-a", 1, 1_000, value: "done")
        #expect(state.apply(op) == .applied)
        #expect(state.apply(op) == .duplicate)
        #expect(state.apply(Self.set("dev-a", 1, 1_000, value: "in_progress")) == .conflictingIdentity)
        #expect(state.apply(Self.set("dev-a", 1, 1_001, value: "done")) == .conflictingIdentity)
        #expect(state.count == 1)
        #expect(state.allOperations == [op])
        #expect(state.apply(Self.set("dev-b", 1, 1_000, value: "done")) == .applied)
        #expect(state.count == 2)
    }

    @Test func lastWriterWinsWhateverTheOrder() {
        let early = Self.set("dev-a", 1, 1_000, value: "in_progress")
        let late = Self.set("dev-b", 1, 2_000, value: "done")
        for ops in [[early, late], [late, early]] {
            let data = Self.dataset(ops)
            #expect(data.values.count == 1)
            #expect(data.values.first?.current.value == "done")
            #expect(data.values.first?.current.device == "dev-b")
            #expect(data.conflicts.count == 1)
            #expect(data.conflicts.first?.winner.device == "dev-b")
            #expect(data.conflicts.first?.losers.map(\.value) == ["in_progress"])
            #expect(data.conflicts.first?.losers.map(\.device) == ["dev-a"])
        }
        #expect(Self.dataset([early, late]).canonicalJSON() == Self.dataset([late, early]).canonicalJSON())
    }

    @Test func equalMillisAndCounterFallBackToTheDevice() {
        let a = Self.set("dev-a", 1, 1_000, value: "in_progress")
        let b = Self.set("dev-b", 1, 1_000, value: "done")
        #expect(Self.dataset([b, a]).values.first?.current.device == "dev-b")
        let c = Self.set("dev-a", 2, 1_000, 1, value: "not_started")
        #expect(Self.dataset([a, b, c]).values.first?.current.value == "not_started")
    }

    @Test func oneDeviceWritingTwiceIsNoConflict() {
        let data = Self.dataset([Self.set("dev-a", 1, 1_000, value: "in_progress"), Self.set("dev-a", 2, 900, 5, value: "done")])
        #expect(data.values.first?.current.value == "in_progress")
        #expect(data.conflicts.isEmpty)
    }

    @Test func conflictListsEachLosingDevicesLatestValueNewestFirst() {
        let ops = [
            Self.set("dev-b", 1, 1_000, value: "not_started"),
            Self.set("dev-b", 2, 3_000, value: "in_progress"),
            Self.set("dev-c", 1, 2_000, value: "not_applicable"),
            Self.set("dev-a", 1, 4_000, value: "done"),
            Self.set("dev-a", 2, 500, value: "not_started"),
        ]
        let conflict = Self.dataset(ops.reversed()).conflicts
        #expect(conflict.count == 1)
        #expect(conflict.first?.winner.value == "done")
        #expect(conflict.first?.losers.map(\.device) == ["dev-b", "dev-c"])
        #expect(conflict.first?.losers.map(\.value) == ["in_progress", "not_applicable"])
    }

    @Test func findingsAreAUnionAndTheLatestRetractionCounts() {
        let add1 = Op.findingAdd(device: "dev-a", sequence: 1, timestamp: ts(1_000, 0, "dev-a"), unit: "muong-lay", item: "II.5",
                                 kind: .shortcoming, text: "Chưa trích lập quỹ")
        let add2 = Op.findingAdd(device: "dev-b", sequence: 1, timestamp: ts(900, 0, "dev-b"), unit: "muong-ang", item: nil,
                                 kind: .goodPractice, text: "Mô hình hay")
        let retractOld = Op.findingRetract(device: "dev-b", sequence: 2, timestamp: ts(2_000, 0, "dev-b"), unit: "muong-lay",
                                           item: "II.5", finding: "dev-a/1", reason: "nhầm")
        let retractNew = Op.findingRetract(device: "dev-c", sequence: 1, timestamp: ts(2_500, 0, "dev-c"), unit: "muong-lay",
                                           item: "II.5", finding: "dev-a/1", reason: "trùng lặp")
        let orphan = Op.findingRetract(device: "dev-c", sequence: 2, timestamp: ts(2_600, 0, "dev-c"), unit: "muong-lay",
                                       item: nil, finding: "dev-z/9", reason: "không rõ")
        let data = Self.dataset([retractNew, orphan, add1, retractOld, add2])
        #expect(data.findings.map(\.id) == ["dev-b/1", "dev-a/1"])
        #expect(data.findings[1].retraction?.value == "trùng lặp")
        #expect(data.findings[1].retraction?.device == "dev-c")
        #expect(data.findings[0].retraction == nil)
        #expect(data.findings[0].item == nil)
        #expect(data.values.isEmpty && data.conflicts.isEmpty)
        let json = data.canonicalJSON()
        #expect(!json.contains("dev-z/9"))
        #expect(json.contains("\"retracted\": true"))
    }

    @Test func valuesFollowUnitItemAndFieldOrder() {
        let ops = [
            Self.set("dev-a", 1, 1, unit: "muong-lay", item: "II.5", field: "fund_percent", value: "12.5"),
            Self.set("dev-a", 2, 2, unit: "muong-lay", item: "II.5", field: "status", value: "done"),
            Self.set("dev-a", 3, 3, unit: "muong-lay", item: "I.1", field: "note", value: "x"),
            Self.set("dev-a", 4, 4, unit: "muong-ang", item: "III.3", field: "rating", value: "tot"),
        ]
        let data = Self.dataset(ops)
        #expect(data.values.map { "\($0.unit) \($0.item) \($0.field)" } ==
                ["muong-ang III.3 rating", "muong-lay I.1 note", "muong-lay II.5 status", "muong-lay II.5 fund_percent"])
        // Numeric fields are JSON numbers, the rest strings.
        let json = data.canonicalJSON()
        #expect(json.contains("\"value\": 12.5,"))
        #expect(json.contains("\"value\": \"done\","))
        #expect(json.hasSuffix("}\n"))
    }

    @Test func allOperationsAreInTimestampOrder() {
        var state = MergeState()
        state.apply(Self.set("dev-b", 1, 3_000, value: "done"))
        state.apply(Self.set("dev-a", 1, 1_000, value: "done"))
        state.apply(Self.set("dev-a", 2, 3_000, value: "done"))
        #expect(state.allOperations.map { "\($0.device)#\($0.sequence)" } == ["dev-a#1", "dev-a#2", "dev-b#1"])
    }

    /// The dataset depends on the set of operations only: any order, any duplicates, the same bytes.
    @Test func datasetIsIndependentOfOrderAndDuplicates() async {
        // Millis from a small range so that devices often tie and the counter and device decide;
        // the counter is the sequence number, so one device never stamps two operations alike.
        let opGen = zip(Gen.int(in: 0...2), Gen.int64(in: 0...5), Gen.int(in: 0...2), Gen.int(in: 0...2))
        await propertyCheck(count: 200, input: opGen.array(of: 1...25), Gen.uint64()) { specs, shuffleSeed in
            let ops = Self.ops(from: specs)
            var rng = SplitMix64(seed: shuffleSeed)
            let shuffled = (ops + ops.prefix(5)).shuffled(using: &rng)
            #expect(Self.dataset(shuffled).canonicalJSON() == Self.dataset(ops).canonicalJSON())
            #expect(Self.dataset(shuffled) == Self.dataset(ops))
        }
    }
}

import InspectorCore
import Testing

/// What changed between two datasets (`Dataset+Changes.swift`), and the one-line description of each change.
@Suite struct DatasetChangesTests {
    static let t: Int64 = 1_718_845_320_000

    /// The dataset of `ops`, merged by the reference model.
    func dataset(_ ops: [Op], units: [Plan.Unit] = planUnits) -> Dataset {
        var state = MergeState()
        for op in ops { state.apply(op) }
        return state.dataset(plan: builtInPlan, units: units)
    }

    func set(_ device: String, _ sequence: Int64, _ millis: Int64, _ field: String, _ value: String) -> Op {
        .set(device: device, sequence: sequence, timestamp: HLCTimestamp(millis: millis, counter: 0, device: device),
             unit: "muong-lay", item: "II.4", field: field, value: value)
    }

    @Test func newValuesFindingsRetractionsAndUnitsAreListedInOrder() {
        let first = set("dev-a", 1, Self.t, "status", "in_progress")
        let add = Op.findingAdd(device: "dev-a", sequence: 2, timestamp: HLCTimestamp(millis: Self.t + 1, counter: 0, device: "dev-a"),
                                unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "Thiếu biên bản họp")
        let before = dataset([first, add])
        let later = set("dev-b", 1, Self.t + 5, "status", "done")
        let rating = set("dev-b", 2, Self.t + 6, "rating", "tot")
        let retract = Op.findingRetract(device: "dev-b", sequence: 3, timestamp: HLCTimestamp(millis: Self.t + 7, counter: 0, device: "dev-b"),
                                        unit: "muong-lay", item: "II.4", finding: "dev-a/2", reason: "Ghi nhầm\nmục")
        let subUnit = Plan.Unit(id: "muong-lay.na-lay", name: "Phường Na Lay", kind: .direct, parent: "muong-lay")
        let after = dataset([first, add, later, rating, retract], units: planUnits + [subUnit])
        let changes = after.changes(since: before)
        #expect(changes.map(\.description) == [
            "unit muong-lay.na-lay: Phường Na Lay (under muong-lay)",
            "set muong-lay II.4 status = done (was in_progress; dev-b#1 at 2024-06-20T01:02:00.005Z)",
            "set muong-lay II.4 rating = tot (dev-b#2 at 2024-06-20T01:02:00.006Z)",
            "retracted dev-a/2: Ghi nhầm\\nmục (dev-b#3 at 2024-06-20T01:02:00.007Z)",
        ])
        #expect(after.changes(since: after).isEmpty)
        // From nothing: the finding, then its retraction; a value set twice shows once, as it stands.
        let fromNothing = after.changes(since: dataset([]))
        #expect(fromNothing.filter { if case .finding = $0 { true } else { false } }.count == 1)
        #expect(fromNothing.last == .retraction(after.findings[0]))
        #expect(fromNothing.contains(.value(after.values.first { $0.field == "status" }!, previous: nil)))
    }

    @Test func anEditThatLosesChangesNothing() {
        let winner = set("dev-b", 1, Self.t + 10, "status", "done")
        let before = dataset([winner])
        let loser = set("dev-a", 1, Self.t, "status", "in_progress")
        #expect(dataset([winner, loser]).changes(since: before).isEmpty, "the shown value is the same; the ledger is not a change here")
    }

    @Test func descriptionsStayOnOneLine() {
        let note = set("dev-a", 1, Self.t, "note", "dòng 1\r\ndòng 2\\n\u{2028}")
        let line = dataset([note]).changes(since: dataset([])).map(\.description).joined()
        #expect(!line.contains { $0.isNewline }, "\(line)")
        #expect(line.contains("dòng 1\\ndòng 2\\\\n\\n"), "\(line)")
    }
}

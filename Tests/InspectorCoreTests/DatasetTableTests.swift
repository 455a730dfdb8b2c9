import InspectorCore
import Testing

@Suite("Dataset.textTable")
struct DatasetTableTests {
    static let unit = "muong-lay"

    static func dataset(_ ops: [Op]) -> Dataset {
        var state = MergeState()
        for op in ops { _ = state.apply(op) }
        return state.dataset(plan: builtInPlan, units: planUnits.filter { $0.id == unit })
    }

    /// The lines of one item's block: its heading up to the next item's heading.
    static func block(_ table: String, item: String) -> [Substring] {
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("  \(item) ") }) else { return [] }
        let rest = lines[(start + 1)...]
        let end = rest.firstIndex { $0.hasPrefix("  ") && !$0.hasPrefix("   ") } ?? lines.endIndex
        return Array(lines[start..<end])
    }

    @Test("every field of every item is listed, with its value and provenance or a dash")
    func everyFieldIsListed() throws {
        let set = Op.set(device: "dev-a", sequence: 1, timestamp: ts(1_718_852_523_456, 0, "dev-a"),
                         unit: Self.unit, item: "II.4", field: "status", value: "done")
        let table = Self.dataset([set]).textTable()
        let item = try #require(builtInPlan.items.first { $0.id == "II.4" })
        let lines = Self.block(table, item: "II.4")
        #expect(lines.first == "  II.4      \(item.title)")
        let fields = builtInPlan.fields(of: item).map(\.id)
        #expect(fields.count > 1)
        #expect(lines.dropFirst().map { String($0.split(separator: " ").first ?? "") } == fields, "\(lines)")
        #expect(lines.contains("      status = done   [dev-a, 2024-06-20T03:02:03.456Z]"))
        #expect(lines.contains("      rating = —"))
        // An item nobody touched lists its fields too, all empty.
        let untouched = Self.block(table, item: "I.1").dropFirst()
        #expect(!untouched.isEmpty && untouched.allSatisfy { $0.hasSuffix(" = —") }, "\(untouched)")
        #expect(table.contains("tiến độ: 1/\(builtInPlan.items.count) mục đã hoàn thành"))
    }

    @Test("findings sit under their item, retracted ones marked, the unit's own after the items")
    func findingsAreListedUnderTheirItems() {
        let add = Op.findingAdd(device: "dev-a", sequence: 1, timestamp: ts(1_000, 0, "dev-a"), unit: Self.unit,
                                item: "II.4", kind: .shortcoming, text: "Hồ sơ chưa đầy đủ")
        let general = Op.findingAdd(device: "dev-b", sequence: 1, timestamp: ts(2_000, 0, "dev-b"), unit: Self.unit,
                                    item: nil, kind: .observation, text: "Ghi nhận chung")
        let retract = Op.findingRetract(device: "dev-b", sequence: 2, timestamp: ts(3_000, 0, "dev-b"), unit: Self.unit,
                                        item: "II.4", finding: "dev-a/1", reason: "Ghi trùng")
        let table = Self.dataset([add, general, retract]).textTable()
        #expect(Self.block(table, item: "II.4").contains("      • [dev-a/1] shortcoming: Hồ sơ chưa đầy đủ (đã rút lại: Ghi trùng)"))
        #expect(table.hasSuffix("      • [dev-b/1] observation: Ghi nhận chung\n"))
    }
}

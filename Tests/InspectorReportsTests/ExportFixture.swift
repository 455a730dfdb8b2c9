import InspectorCore
import InspectorPlans
@testable import InspectorReports

/// A small hub snapshot: two devices' values, findings (one retracted), a conflict and a schedule.
enum ExportFixture {
    static let plan = try! BuiltInPlans.current()

    static func input(asOf: CalendarDate = CalendarDate(year: 2024, month: 6, day: 1)!) -> ExportInput {
        var state = MergeState()
        func t(_ ms: Int64, _ device: String) -> HLCTimestamp { HLCTimestamp(millis: 1_718_845_200_000 + ms, counter: 0, device: device) }
        state.apply(.set(device: "dev-a", sequence: 1, timestamp: t(0, "dev-a"), unit: "muong-lay", item: "II.4", field: "status", value: "done"))
        state.apply(.set(device: "dev-b", sequence: 1, timestamp: t(1000, "dev-b"), unit: "muong-lay", item: "II.4", field: "status", value: "in_progress"))
        state.apply(.set(device: "dev-a", sequence: 2, timestamp: t(2000, "dev-a"), unit: "muong-lay", item: "II.5", field: "reward_spending_total", value: "182500000"))
        state.apply(.set(device: "dev-a", sequence: 3, timestamp: t(3000, "dev-a"), unit: "muong-lay", item: "I.1", field: "note", value: "Thị xã vùng cao, \"đặc thù\"; nhiều bản xa"))
        state.apply(.findingAdd(device: "dev-a", sequence: 4, timestamp: t(4000, "dev-a"), unit: "muong-lay", item: "II.3", kind: .goodPractice, text: "Mô hình “Dân vận khéo” ở phường Na Lay"))
        state.apply(.findingAdd(device: "dev-b", sequence: 2, timestamp: t(5000, "dev-b"), unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Chưa trích lập quỹ"))
        state.apply(.findingRetract(device: "dev-b", sequence: 3, timestamp: t(6000, "dev-b"), unit: "muong-lay", item: "II.5", finding: "dev-b/2", reason: "Đã có quyết định trích lập"))
        state.apply(.findingAdd(device: "dev-b", sequence: 4, timestamp: t(7000, "dev-b"), unit: "muong-lay", item: "III.3", kind: .recommendation, text: "Bố trí cán bộ chuyên trách"))
        let dataset = state.dataset(plan: plan, units: plan.units)
        return ExportInput(dataset: dataset, holders: ["dev-a": "Lò Văn Thắng", "dev-b": "Quàng Thị Hoa"],
                           schedules: ["muong-lay": CalendarDate(year: 2024, month: 6, day: 20)!],
                           resolutions: [], skewedOperations: ["dev-b#1"], asOf: asOf)
    }
}

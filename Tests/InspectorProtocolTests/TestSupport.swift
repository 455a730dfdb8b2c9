import Foundation
import InspectorCore
import InspectorProtocol
import Testing

func ts(_ millis: Int64, _ counter: Int64 = 0, _ device: String) -> HLCTimestamp {
    HLCTimestamp(millis: millis, counter: counter, device: device)
}

/// A few operations of every kind, with text that needs escaping and Vietnamese diacritics.
let sampleOps: [Op] = [
    .set(device: "dev-a", sequence: 1, timestamp: ts(1_718_845_323_456, 0, "dev-a"), unit: "muong-lay", item: "II.4",
         field: "status", value: "done"),
    .set(device: "dev-a", sequence: 2, timestamp: ts(1_718_845_323_456, 1, "dev-a"), unit: "muong-lay", item: "II.5",
         field: "fund_percent", value: "12.5"),
    .set(device: "dev-a", sequence: 3, timestamp: ts(1_718_845_324_000, 0, "dev-a"), unit: "muong-lay", item: "I.1",
         field: "note", value: "Mường Lay: \"tốt\"\nback\\slash\ttab"),
    .findingAdd(device: "dev-a", sequence: 4, timestamp: ts(1_718_845_325_000, 0, "dev-a"), unit: "muong-lay", item: "II.5",
                kind: .goodPractice, text: "Mô hình hay 🇻🇳"),
    .findingAdd(device: "dev-a", sequence: 5, timestamp: ts(1_718_845_325_001, 0, "dev-a"), unit: "muong-ang", item: nil,
                kind: .recommendation, text: "Kiến nghị"),
    .findingRetract(device: "dev-a", sequence: 6, timestamp: ts(1_718_845_326_000, 2, "dev-a"), unit: "muong-lay", item: "II.5",
                    finding: "dev-b/7", reason: "nhầm đơn vị"),
    .findingRetract(device: "dev-a", sequence: 7, timestamp: ts(1_718_845_326_001, 0, "dev-a"), unit: "muong-ang", item: nil,
                    finding: "dev-a/5", reason: "trùng"),
]

/// A small but complete plan, written by hand so that this target does not need the built-in one.
let smallPlanJSON = """
    {"format":"inspectorsync-plan/1","id":"kh-test","reference":"1/KH","title":"Kế hoạch thử","issuer":"Hội đồng",
     "issued":"2024-03-19",
     "dates":{"inspectionFrom":"2024-04-01","inspectionTo":"2024-09-30","documentsFrom":"2023-01-01",
              "noticeWorkingDays":15,"reportDaysBefore":5,"selfInspectionReportDue":"2024-11-10"},
     "holidays":["2024-09-02"],
     "ratings":[{"id":"tot","title":"Tốt"}],
     "units":[{"id":"muong-lay","name":"UBND thị xã Mường Lay","kind":"direct"},
              {"id":"phuong-na-lay","name":"Phường Na Lay","kind":"self","parent":"muong-lay"}],
     "commonFields":[{"id":"status","title":"Trạng thái","type":"enum","values":[{"id":"done","title":"Xong"}]},
                     {"id":"rating","title":"Đánh giá","type":"enum","values":[{"id":"tot","title":"Tốt"}]},
                     {"id":"note","title":"Ghi chú","type":"text","maxLength":4000}],
     "sections":[{"id":"II","title":"Kết quả"}],
     "items":[{"id":"II.5","section":"II","title":"Quỹ","guidance":"Quỹ thi đua",
               "fields":[{"id":"fund_percent","title":"Tỷ lệ","type":"percent"},
                         {"id":"reward_spending_total","title":"Tổng","type":"decimal","min":0,"max":1000000000.5,"unit":"VND"},
                         {"id":"share","title":"Tỷ lệ","type":"percent","min":0.1,"max":99.99}]}],
     "notes":[{"topic":"test","text":"ghi chú"}]}
    """

let smallPlan: Plan = try! Plan.decode(from: Data(smallPlanJSON.utf8))

/// Runs `body` and returns the `ProtocolError` it throws, recording an issue when it does not throw one.
func protocolError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ProtocolError? {
    do {
        try body()
        Issue.record("expected a ProtocolError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as ProtocolError {
        return error
    } catch {
        Issue.record("expected a ProtocolError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

import InspectorCore
import Testing
@testable import InspectorReports

@Suite struct ReportDocumentTests {
    let input = ExportFixture.input()

    @Test func everyOutlineHeadingInOrderWithFindingsUnderTheirItems() throws {
        let markdown = ReportDocument(input).markdown()
        let unitStart = try #require(markdown.range(of: "## UBND thị xã Mường Lay (muong-lay)"))
        let unitEnd = markdown.range(of: "\n## ", range: unitStart.upperBound..<markdown.endIndex)?.lowerBound ?? markdown.endIndex
        let section = String(markdown[unitStart.lowerBound..<unitEnd])
        var cursor = section.startIndex
        for item in ExportFixture.plan.items {
            let heading = "##### \(item.id). "
            let found = try #require(section.range(of: heading, range: cursor..<section.endIndex), "heading \(item.id) missing or out of order")
            cursor = found.upperBound
        }
        for heading in ["### I. ", "### II. ", "### III. "] { #expect(section.contains(heading)) }
        func block(_ item: String) -> Substring {
            let start = section.range(of: "##### \(item). ")!.upperBound
            let end = section.range(of: "#####", range: start..<section.endIndex)?.lowerBound ?? section.endIndex
            return section[start..<end]
        }
        #expect(block("II.3").contains("Dân vận khéo"))
        #expect(!block("II.4").contains("Dân vận khéo"))
        #expect(block("II.5").contains("~~\\[Tồn tại, hạn chế\\] Chưa trích lập quỹ~~"), "retracted findings are shown struck, not dropped")
        #expect(block("II.5").contains("ĐÃ RÚT LẠI: Đã có quyết định trích lập"))
        #expect(block("III.3").contains("Bố trí cán bộ chuyên trách") && block("III.3").contains("Quàng Thị Hoa"))
    }

    @Test func summaryComesFirst() throws {
        let markdown = ReportDocument(input).markdown()
        let summary = try #require(markdown.range(of: "## Tóm tắt gửi Ủy ban nhân dân tỉnh"))
        let firstUnit = try #require(markdown.range(of: "## UBND huyện Mường Ảng"))
        #expect(summary.lowerBound < firstUnit.lowerBound)
        #expect(markdown.contains("| UBND thị xã Mường Lay (muong-lay) | Kiểm tra trực tiếp | 0/26 | 20/06/2024 | 30/05/2024 | 15/06/2024 | hạn thông báo 30/05/2024 |"))
        #expect(markdown.contains("muong-lay · II.4 · status"), "open conflicts are listed")
    }

    @Test func htmlIsPrintableAndSelfContained() {
        let html = ReportDocument(input).html()
        #expect(html.contains("@page { size: A4"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        #expect(!html.contains("<link") && !html.contains("src=") && !html.contains("http"))
        #expect(html.contains("<del>[Tồn tại, hạn chế] Chưa trích lập quỹ</del>"))
        #expect(html.contains("Mô hình “Dân vận khéo” ở phường Na Lay"))
    }

    @Test func sameStateGivesByteIdenticalFiles() {
        let first = ExportFiles.make(ExportFixture.input())
        let second = ExportFiles.make(ExportFixture.input())
        #expect(first.map(\.name) == ["dataset.json", "units.csv", "values.csv", "findings.csv", "conflicts.csv", "attachments.csv", "report.md", "report.html"])
        for (a, b) in zip(first, second) { #expect(a.bytes == b.bytes, "\(a.name) differs between two exports") }
    }

    @Test func resolvedConflictsAreShownAsResolved() throws {
        var input = ExportFixture.input()
        var state = MergeState()
        for value in input.dataset.values { _ = value }
        let decided = HLCTimestamp(millis: 1_718_845_300_000, counter: 0, device: "hub")
        state.apply(.set(device: "dev-a", sequence: 1, timestamp: HLCTimestamp(millis: 1, counter: 0, device: "dev-a"), unit: "muong-lay", item: "II.4", field: "status", value: "done"))
        state.apply(.set(device: "dev-b", sequence: 1, timestamp: HLCTimestamp(millis: 2, counter: 0, device: "dev-b"), unit: "muong-lay", item: "II.4", field: "status", value: "in_progress"))
        state.apply(.set(device: "hub", sequence: 1, timestamp: decided, unit: "muong-lay", item: "II.4", field: "status", value: "done"))
        input.dataset = state.dataset(plan: input.dataset.plan, units: input.dataset.units)
        input.resolutions = [.init(unit: "muong-lay", item: "II.4", field: "status", value: "done", by: "Lò Văn Thắng", timestamp: decided, sequence: 1)]
        let rows = try parseCSV(OfficeCSV.conflicts(input))
        #expect(rows.count == 3)
        #expect(rows.dropFirst().allSatisfy { $0[13] == "Đã giải quyết" && $0[14] == "Lò Văn Thắng" })
        let markdown = ReportDocument(input).markdown()
        #expect(markdown.contains("Không có xung đột chưa giải quyết."))
        #expect(markdown.contains("quyết định của Lò Văn Thắng"))
    }
}

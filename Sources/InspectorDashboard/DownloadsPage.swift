import InspectorCore
import InspectorHub
import InspectorReports

/// `/downloads`: the export files, the same bytes `hub export --out` writes for the same day.
struct DownloadsPage: Sendable {
    struct File: Sendable {
        var name: String
        var href: String
        var size: String
        var description: String
    }

    var layout: PageLayout
    var files: [File]

    init(files: [(name: String, bytes: [UInt8])], snapshot: DashboardSnapshot, session: OfficeSession) {
        layout = PageLayout(title: "Tải xuống", session: session, snapshot: snapshot)
        layout.isDownloads = true
        self.files = files.map { file in
            File(name: file.name, href: "/downloads/\(file.name)", size: ReportDocument.size(Int64(file.bytes.count)), description: Self.describe(file.name))
        }
    }

    static func describe(_ name: String) -> String {
        switch name {
        case "dataset.json": "Toàn bộ dữ liệu đã hợp nhất (JSON chuẩn)"
        case "units.csv": "Các đơn vị: tiến độ, lịch, thời hạn"
        case "values.csv": "Giá trị từng mục, người nhập, thời điểm"
        case "findings.csv": "Các phát hiện, kể cả đã rút lại"
        case "conflicts.csv": "Sổ xung đột và quyết định"
        case "attachments.csv": "Tệp đính kèm của các phát hiện"
        case "report.md": "Báo cáo tổng hợp (Markdown)"
        case "report.html": "Báo cáo tổng hợp để in (HTML)"
        case "logs.csv": "Nhật ký thao tác của từng thiết bị đã được xác minh chữ ký"
        default: ""
        }
    }
}

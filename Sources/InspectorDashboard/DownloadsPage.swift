import InspectorCore
import InspectorHub
import InspectorReports

/// `/downloads`: the export files, the same bytes `hub export --out` writes for the same day.
struct DownloadsPage: Sendable {
    struct File: Sendable {
        var name: String
        var href: String
        var description: String
    }

    var layout: PageLayout
    var files: [File]

    /// Lists the files by name: they are made when one is downloaded (on a large hub, report.html
    /// takes seconds), not to show this page.
    init(snapshot: DashboardSnapshot, session: OfficeSession) {
        layout = PageLayout(title: "Tải xuống", session: session, snapshot: snapshot)
        layout.isDownloads = true
        files = ExportFiles.names(of: snapshot.input).map { name in
            File(name: name, href: "/downloads/\(name)", description: Self.describe(name))
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

import InspectorCore
import InspectorHub
import InspectorReports

/// `/audit`: every decision, newest first, 100 to a page: who, what, when.
struct AuditPage: Sendable {
    struct Row: Sendable {
        var when: String
        var user: String
        var action: String
        var detail: String
    }

    static let pageSize = 100

    var layout: PageLayout
    var rows: [Row]
    var older: String?
    var isEmpty: Bool

    init(entries: [AuditEntry], snapshot: DashboardSnapshot, session: OfficeSession) {
        layout = PageLayout(title: "Nhật ký quyết định", session: session, snapshot: snapshot)
        layout.isAudit = true
        rows = entries.map { entry in
            Row(when: VietnamTime.format(HLCTimestamp(millis: entry.at, counter: 0, device: Identifier.hubDevice)), user: entry.user,
                action: Self.title(entry.action), detail: entry.detail)
        }
        isEmpty = rows.isEmpty
        older = entries.count == Self.pageSize ? entries.last.map { "/audit?before=\($0.id)" } : nil
    }

    static func title(_ action: AuditAction) -> String {
        switch action {
        case .resolve: "Giải quyết xung đột"
        case .schedule: "Xếp lịch kiểm tra"
        case .userAdded: "Thêm tài khoản"
        case .userRemoved: "Xóa tài khoản"
        default: action.rawValue
        }
    }
}

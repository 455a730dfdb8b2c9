import InspectorCore
import InspectorHub
import InspectorReports

/// What every page's frame shows: the title, the account, the anti-forgery token of its forms, and
/// the hub's change mark the page was made from (the live-update script compares it).
struct PageLayout: Sendable {
    var title: String
    /// The plan's number, e.g. `1181/KH-HĐTĐKT`.
    var planReference: String
    var userName: String
    var roleTitle: String
    var isSupervisor: Bool
    var csrf: String
    var mark: String
    /// `dd/mm/yyyy` of the day deadlines are checked against.
    var asOf: String
    /// `dd/mm/yyyy HH:mm` when the data was read.
    var readAt: String
    /// Which tab is current.
    var isOverview = false
    var isConflicts = false
    var isAudit = false
    var isDownloads = false

    init(title: String, session: OfficeSession, snapshot: DashboardSnapshot) {
        self.title = title
        planReference = snapshot.plan.reference
        userName = session.user.name
        roleTitle = session.user.role == .supervisor ? "giám sát" : "xem"
        isSupervisor = session.user.role.canDecide
        csrf = session.csrfToken
        mark = snapshot.mark
        asOf = snapshot.input.asOf.vietnameseString
        readAt = VietnamTime.format(HLCTimestamp(millis: snapshot.readAt, counter: 0, device: Identifier.hubDevice))
    }
}

/// A deadline cell: the date, and whether it has passed or falls within 7 days.
struct DeadlineCell: Sendable {
    var date: String
    var isPassed: Bool
    var isSoon: Bool
    /// `passed`, `soon` or empty: the cell's class.
    var state: String
    var stateTitle: String?

    /// A deadline matters until the team has arrived.
    init?(_ date: CalendarDate?, arrival: CalendarDate?, asOf: CalendarDate) {
        guard let date else { return nil }
        self.date = date.vietnameseString
        let open = arrival.map { $0 >= asOf } ?? true
        isPassed = open && date < asOf
        isSoon = open && !isPassed && date <= asOf.adding(days: 7)
        state = isPassed ? "passed" : isSoon ? "soon" : ""
        stateTitle = isPassed ? "đã quá hạn" : isSoon ? "sắp đến hạn" : nil
    }
}

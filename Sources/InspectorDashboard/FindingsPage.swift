import InspectorCore
import InspectorHub
import InspectorReports

/// `/units/<id>/findings?item=<item>&page=<n>`: every finding of one item of a unit (or, without
/// `item`, the unit's general findings), 100 to a page, in time order.
struct FindingsPage: Sendable {
    static let pageSize = 100

    /// Which findings a page lists: the entries of its page, of how many, on which page of how many.
    struct List: Sendable {
        var entries: [DashboardSnapshot.FindingEntry]
        var count: Int
        var current: Int
        var pageCount: Int

        /// `page` is clamped to the pages there are.
        init(unit: String, item: String?, snapshot: DashboardSnapshot, page: Int) {
            let all = snapshot.findings(of: unit).filter { $0.item == item }
            count = all.count
            pageCount = max(1, (all.count + FindingsPage.pageSize - 1) / FindingsPage.pageSize)
            current = min(max(1, page), pageCount)
            entries = Array(all.dropFirst((current - 1) * FindingsPage.pageSize).prefix(FindingsPage.pageSize))
        }
    }

    var layout: PageLayout
    var unit: String
    var unitName: String
    var heading: String
    var count: Int
    var rows: [UnitPage.FindingRow]
    var pages: [ConflictsPage.PageLink]

    /// - Parameter shown: the findings of `listed`, read whole.
    init(unit: Plan.Unit, item: Plan.Item?, listed: List, shown: ShownFindings, snapshot: DashboardSnapshot, session: OfficeSession) {
        layout = PageLayout(title: unit.name, session: session, snapshot: snapshot)
        self.unit = unit.id
        unitName = unit.name
        heading = item.map { "\($0.id). \($0.title)" } ?? "Phát hiện chung của đơn vị"
        count = listed.count
        rows = shown.rows(listed.entries)
        pages = listed.pageCount == 1 ? [] : (1...listed.pageCount).map {
            ConflictsPage.PageLink(number: $0, href: Self.href(unit: unit.id, item: item?.id, page: $0), isCurrent: $0 == listed.current)
        }
    }

    static func href(unit: String, item: String?, page: Int) -> String {
        "/units/\(OfficeSessionMiddleware.percentEncoded(unit))/findings?\(item.map { "item=\(OfficeSessionMiddleware.percentEncoded($0))&" } ?? "")page=\(page)"
    }
}

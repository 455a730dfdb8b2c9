import InspectorCore
import InspectorHub
import InspectorReports

/// `/units/<id>/findings?item=<item>&page=<n>`: every finding of one item of a unit (or, without
/// `item`, the unit's general findings), 100 to a page, in time order.
struct FindingsPage: Sendable {
    static let pageSize = 100

    var layout: PageLayout
    var unit: String
    var unitName: String
    var heading: String
    var count: Int
    var rows: [UnitPage.FindingRow]
    var pages: [ConflictsPage.PageLink]

    init(unit: Plan.Unit, item: Plan.Item?, snapshot: DashboardSnapshot, session: OfficeSession, page: Int) {
        layout = PageLayout(title: unit.name, session: session, snapshot: snapshot)
        self.unit = unit.id
        unitName = unit.name
        heading = item.map { "\($0.id). \($0.title)" } ?? "Phát hiện chung của đơn vị"
        let all = snapshot.findings(of: unit.id).filter { $0.item == item?.id }
        count = all.count
        let pageCount = max(1, (all.count + Self.pageSize - 1) / Self.pageSize)
        let current = min(max(1, page), pageCount)
        rows = all.dropFirst((current - 1) * Self.pageSize).prefix(Self.pageSize).map { UnitPage.finding($0, input: snapshot.input) }
        pages = pageCount == 1 ? [] : (1...pageCount).map {
            ConflictsPage.PageLink(number: $0, href: Self.href(unit: unit.id, item: item?.id, page: $0), isCurrent: $0 == current)
        }
    }

    static func href(unit: String, item: String?, page: Int) -> String {
        "/units/\(OfficeSessionMiddleware.percentEncoded(unit))/findings?\(item.map { "item=\(OfficeSessionMiddleware.percentEncoded($0))&" } ?? "")page=\(page)"
    }
}

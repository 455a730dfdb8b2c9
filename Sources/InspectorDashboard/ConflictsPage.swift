import InspectorCore
import InspectorHub
import InspectorReports

/// `/conflicts`: the conflict ledger, open ones first, 50 to a page: each field's value in use and
/// every other device's, with who and when; for a supervisor, the form that decides it.
struct ConflictsPage: Sendable {
    struct Version: Sendable {
        var value: String
        var raw: String
        var who: String
        var device: String
        var when: String
        var isSkewed: Bool
    }

    struct Choice: Sendable {
        var raw: String
        var title: String
        var isCurrent: Bool
    }

    struct Row: Sendable {
        var unit: String
        var unitName: String
        var item: String
        var itemTitle: String
        var field: String
        var fieldTitle: String
        var winner: Version
        /// The latest other values shown (newest first); the ledger's CSV has them all.
        var losers: [Version]
        var loserCount: Int
        /// How many other values are not shown, if any.
        var hiddenLosers: Int?
        var resolvedBy: String?
        var resolvedAt: String?
        var isOpen: Bool
        var choices: [Choice]

        init(_ conflict: Dataset.Conflict, snapshot: DashboardSnapshot, shownVersions: Int = ConflictsPage.shownVersions) {
            let input = snapshot.input
            let plan = snapshot.plan
            let item = plan.items.first { $0.id == conflict.item }
            let field = item.flatMap { plan.fields(of: $0).first { $0.id == conflict.field } }
            func version(_ v: Dataset.Version) -> Version {
                Version(value: UnitPage.shown(v.value, field: field), raw: v.value, who: input.holder(v.device), device: v.device,
                        when: VietnamTime.format(v.timestamp), isSkewed: input.isSkewed(v))
            }
            unit = conflict.unit
            unitName = snapshot.dataset.units.first { $0.id == conflict.unit }?.name ?? conflict.unit
            self.item = conflict.item
            itemTitle = item?.title ?? conflict.item
            self.field = conflict.field
            fieldTitle = field?.title ?? conflict.field
            winner = version(conflict.winner)
            losers = conflict.losers.prefix(shownVersions).map(version)
            loserCount = conflict.losers.count
            hiddenLosers = conflict.losers.count > shownVersions ? conflict.losers.count - shownVersions : nil
            let resolution = input.resolution(of: conflict)
            resolvedBy = resolution?.by
            resolvedAt = resolution.map { VietnamTime.format($0.timestamp) }
            isOpen = resolution == nil
            var seen = Set<String>()
            choices = ([conflict.winner] + conflict.losers).compactMap { v in
                guard seen.insert(v.value).inserted else { return nil }
                return Choice(raw: v.value, title: UnitPage.shown(v.value, field: field), isCurrent: v.value == conflict.winner.value)
            }
        }
    }

    struct PageLink: Sendable {
        var number: Int
        var href: String
        var isCurrent: Bool
    }

    static let pageSize = 20
    /// Other values shown per conflict: with a hundred devices on one field, the ten latest.
    static let shownVersions = 10

    var layout: PageLayout
    var rows: [Row]
    var openCount: Int
    /// The unit the ledger is limited to, if any.
    var unitName: String?
    var resolvedCount: Int
    var pages: [PageLink]
    var isEmpty: Bool

    /// - Parameter unit: only this unit's conflicts, when given.
    init(snapshot: DashboardSnapshot, session: OfficeSession, page: Int, unit: String? = nil) {
        layout = PageLayout(title: "Xung đột dữ liệu", session: session, snapshot: snapshot)
        layout.isConflicts = true
        let input = snapshot.input
        let conflicts = unit.map { snapshot.conflictsByUnit[$0, default: []] } ?? snapshot.dataset.conflicts
        unitName = unit.map { id in snapshot.dataset.units.first { $0.id == id }?.name ?? id }
        let open = conflicts.filter { input.resolution(of: $0) == nil }
        let resolved = conflicts.filter { input.resolution(of: $0) != nil }
        openCount = open.count
        resolvedCount = resolved.count
        let ordered = open + resolved
        let pageCount = max(1, (ordered.count + Self.pageSize - 1) / Self.pageSize)
        let current = min(max(1, page), pageCount)
        rows = ordered.dropFirst((current - 1) * Self.pageSize).prefix(Self.pageSize).map { Row($0, snapshot: snapshot) }
        isEmpty = rows.isEmpty
        pages = pageCount == 1 ? [] : (1...pageCount).map { PageLink(number: $0, href: "/conflicts?\(unit.map { "unit=\(OfficeSessionMiddleware.percentEncoded($0))&" } ?? "")page=\($0)",
                                                                   isCurrent: $0 == current) }
    }
}

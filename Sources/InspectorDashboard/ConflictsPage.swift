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

        /// A conflict as the ledger shows it: the value in use, the latest other values, and the
        /// values a supervisor can choose.
        init(_ conflict: Dataset.Conflict, snapshot: DashboardSnapshot) {
            self.init(unit: conflict.unit, item: conflict.item, field: conflict.field, winner: conflict.winner,
                      shownLosers: Array(conflict.losers.prefix(ConflictsPage.shownVersions)), loserCount: conflict.losers.count, snapshot: snapshot)
            let plan = snapshot.plan
            let planField = plan.items.first { $0.id == conflict.item }.flatMap { plan.fields(of: $0).first { $0.id == conflict.field } }
            var seen = Set<String>()
            choices = ([conflict.winner] + conflict.losers).compactMap { v in
                guard seen.insert(v.value).inserted else { return nil }
                return Choice(raw: v.value, title: UnitPage.shown(v.value, field: planField), isCurrent: v.value == conflict.winner.value)
            }
        }

        /// A conflict as a unit's page lists it, from its entry: the value in use and how many
        /// other values there are, without them.
        init(_ entry: DashboardSnapshot.ConflictEntry, snapshot: DashboardSnapshot) {
            self.init(unit: entry.unit, item: entry.item, field: entry.field, winner: entry.winner, shownLosers: [], loserCount: entry.loserCount,
                      snapshot: snapshot)
        }

        private init(unit: String, item: String, field: String, winner: Dataset.Version, shownLosers: [Dataset.Version], loserCount: Int,
                     snapshot: DashboardSnapshot) {
            let input = snapshot.input
            let plan = snapshot.plan
            let planItem = plan.items.first { $0.id == item }
            let planField = planItem.flatMap { plan.fields(of: $0).first { $0.id == field } }
            func version(_ v: Dataset.Version) -> Version {
                Version(value: UnitPage.shown(v.value, field: planField), raw: v.value, who: input.holder(v.device), device: v.device,
                        when: VietnamTime.format(v.timestamp), isSkewed: input.isSkewed(v))
            }
            self.unit = unit
            unitName = snapshot.dataset.units.first { $0.id == unit }?.name ?? unit
            self.item = item
            itemTitle = planItem?.title ?? item
            self.field = field
            fieldTitle = planField?.title ?? field
            self.winner = version(winner)
            losers = shownLosers.map(version)
            self.loserCount = loserCount
            hiddenLosers = loserCount > shownLosers.count ? loserCount - shownLosers.count : nil
            let resolution = input.resolution(unit: unit, item: item, field: field, winner: winner)
            resolvedBy = resolution?.by
            resolvedAt = resolution.map { VietnamTime.format($0.timestamp) }
            isOpen = resolution == nil
            choices = []
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

    /// The entries a page of the ledger lists (open ones first), and its page links: what the
    /// snapshot says; the page reads these conflicts whole from the hub.
    struct List: Sendable {
        var entries: [DashboardSnapshot.ConflictEntry]
        var openCount: Int
        var resolvedCount: Int
        var pages: [PageLink]

        /// - Parameter unit: only this unit's conflicts, when given.
        init(snapshot: DashboardSnapshot, page: Int, unit: String? = nil) {
            let input = snapshot.input
            let conflicts = unit.map { snapshot.conflictsByUnit[$0, default: []] } ?? snapshot.conflicts
            var open: [DashboardSnapshot.ConflictEntry] = [], resolved: [DashboardSnapshot.ConflictEntry] = []
            for entry in conflicts {
                if input.resolution(unit: entry.unit, item: entry.item, field: entry.field, winner: entry.winner) == nil {
                    open.append(entry)
                } else {
                    resolved.append(entry)
                }
            }
            openCount = open.count
            resolvedCount = resolved.count
            let ordered = open + resolved
            let pageCount = max(1, (ordered.count + ConflictsPage.pageSize - 1) / ConflictsPage.pageSize)
            let current = min(max(1, page), pageCount)
            entries = Array(ordered.dropFirst((current - 1) * ConflictsPage.pageSize).prefix(ConflictsPage.pageSize))
            pages = pageCount == 1 ? [] : (1...pageCount).map {
                PageLink(number: $0, href: "/conflicts?\(unit.map { "unit=\(OfficeSessionMiddleware.percentEncoded($0))&" } ?? "")page=\($0)",
                         isCurrent: $0 == current)
            }
        }
    }

    /// - Parameters:
    ///   - listed: the page's entries.
    ///   - shown: their conflicts, whole, as the hub holds them now (one no longer conflicted is left out).
    ///   - unit: only this unit's conflicts, when given.
    init(snapshot: DashboardSnapshot, session: OfficeSession, listed: List, shown: [Dataset.Conflict], unit: String? = nil) {
        layout = PageLayout(title: "Xung đột dữ liệu", session: session, snapshot: snapshot)
        layout.isConflicts = true
        unitName = unit.map { id in snapshot.dataset.units.first { $0.id == id }?.name ?? id }
        openCount = listed.openCount
        resolvedCount = listed.resolvedCount
        rows = shown.map { Row($0, snapshot: snapshot) }
        isEmpty = rows.isEmpty
        pages = listed.pages
    }
}

import InspectorCore
import InspectorHub
import InspectorReports

/// `/units/<id>`: one unit in the outline's structure (I, II.1–6 with their items, III): each item's
/// values with who set them and when, its findings (retracted ones struck through) with their
/// attachments; the unit's conflicts; its schedule and deadlines, and for a supervisor the form that
/// schedules the visit.
struct UnitPage: Sendable {
    struct ValueRow: Sendable {
        var field: String
        var value: String
        var who: String
        var device: String
        var when: String
        var isSkewed: Bool
    }

    struct AttachmentRow: Sendable {
        var name: String
        var detail: String
        var href: String?
        var isImage: Bool
    }

    struct FindingRow: Sendable {
        var kind: String
        var text: String
        var who: String
        var device: String
        var when: String
        var isRetracted: Bool
        var retraction: String?
        var attachments: [AttachmentRow]
        var hasAttachments: Bool
    }

    struct ItemRow: Sendable {
        var id: String
        var title: String
        var status: String?
        var values: [ValueRow]
        /// The latest ``shownFindings`` findings, in time order.
        var findings: [FindingRow]
        var findingCount: Int
        var hasValues: Bool
        var hasFindings: Bool
        var isEmpty: Bool
        /// The page with all of them, when there are more than shown.
        var moreFindings: String?
    }

    /// Findings shown under an item (and among the unit's general ones); the rest are a link away.
    static let shownFindings = 10

    /// A line of a section: a group's heading (II.2, then II.2.a) or an item. Named apart from
    /// every enclosing context's keys: Mustache looks a missing (nil) key up in the enclosing ones.
    struct Entry: Sendable {
        var groupHeading: String?
        var isSubgroup: Bool
        var row: ItemRow?
    }

    struct Section: Sendable {
        var heading: String
        var entries: [Entry]
    }

    var layout: PageLayout
    var id: String
    var name: String
    var kindTitle: String
    var parent: String?
    var parentName: String?
    var done: Int
    var total: Int
    var arrival: String?
    /// `yyyy-mm-dd`, for the schedule form's date input.
    var arrivalISO: String
    var notice: DeadlineCell?
    var report: DeadlineCell?
    var sections: [Section]
    var general: [FindingRow]
    var generalCount: Int
    var moreGeneral: String?
    var hasGeneral: Bool
    var conflicts: [ConflictsPage.Row]
    var hasConflicts: Bool
    var isDirect: Bool

    /// The ids of the findings a unit's page shows: each item's latest ``shownFindings``, and the
    /// unit's general ones'.
    static func shownFindingIDs(unit: String, snapshot: DashboardSnapshot) -> [String] {
        let byItem = Dictionary(grouping: snapshot.findings(of: unit), by: \.item)
        return byItem.values.flatMap { $0.suffix(shownFindings).map(\.id) }
    }

    /// - Parameter shown: the findings of ``shownFindingIDs(unit:snapshot:)``, read whole.
    init(unit: Plan.Unit, snapshot: DashboardSnapshot, shown: ShownFindings, session: OfficeSession) {
        let input = shown.input
        let plan = snapshot.plan
        layout = PageLayout(title: unit.name, session: session, snapshot: snapshot)
        id = unit.id
        name = unit.name
        isDirect = unit.kind == .direct
        kindTitle = unit.kind == .direct ? "Kiểm tra trực tiếp" : "Tự kiểm tra"
        parent = unit.parent
        parentName = unit.parent.map { parent in snapshot.dataset.units.first { $0.id == parent }?.name ?? parent }
        let progress = snapshot.progress[unit.id] ?? (0, plan.items.count)
        done = progress.done
        total = progress.total
        let deadlines = input.deadlines(for: unit)
        arrival = deadlines.arrival?.vietnameseString
        arrivalISO = deadlines.arrival?.isoString ?? ""
        notice = DeadlineCell(deadlines.noticeBy, arrival: deadlines.arrival, asOf: input.asOf)
        report = DeadlineCell(deadlines.reportDue, arrival: deadlines.arrival, asOf: input.asOf)

        let values = Dictionary(grouping: snapshot.valuesByUnit[unit.id, default: []], by: \.item)
        let findings = snapshot.findings(of: unit.id)
        let findingsByItem = Dictionary(grouping: findings.filter { $0.item != nil }, by: { $0.item! })
        let groups = plan.groups ?? []
        var shownGroups = Set<String>()
        sections = plan.sections.map { section in
            var entries: [Entry] = []
            for item in plan.items where item.section == section.id {
                // Every group the item belongs to (II.2, then II.2.a), each the first time it is met.
                for group in groups.filter({ item.id.hasPrefix($0.id + ".") }).sorted(by: { $0.id.count < $1.id.count })
                where shownGroups.insert(group.id).inserted {
                    entries.append(Entry(groupHeading: "\(group.id). \(group.title)", isSubgroup: group.id.split(separator: ".").count > 2, row: nil))
                }
                let row = Self.item(item, unit: unit.id, plan: plan, values: values[item.id] ?? [], findings: findingsByItem[item.id] ?? [],
                                    found: shown)
                entries.append(Entry(groupHeading: nil, isSubgroup: false, row: row))
            }
            return Section(heading: "\(section.id). \(section.title)", entries: entries)
        }
        let unitWide = findings.filter { $0.item == nil }
        general = shown.rows(unitWide.suffix(Self.shownFindings))
        generalCount = unitWide.count
        moreGeneral = unitWide.count > Self.shownFindings ? FindingsPage.href(unit: unit.id, item: nil, page: 1) : nil
        conflicts = snapshot.conflictsByUnit[unit.id, default: []].map { ConflictsPage.Row($0, snapshot: snapshot) }
        hasConflicts = !conflicts.isEmpty
        hasGeneral = !general.isEmpty
    }

    /// - Parameter found: the item's shown findings, read whole (among others).
    static func item(_ item: Plan.Item, unit: String, plan: Plan, values: [Dataset.Value], findings: [DashboardSnapshot.FindingEntry],
                     found: ShownFindings) -> ItemRow {
        let input = found.input
        let fields = plan.fields(of: item)
        let rows = values.map { value in
            let field = fields.first { $0.id == value.field }
            return ValueRow(field: field?.title ?? value.field, value: shown(value.current.value, field: field),
                            who: input.holder(value.current.device), device: value.current.device,
                            when: VietnamTime.format(value.current.timestamp), isSkewed: input.isSkewed(value.current))
        }
        let status = values.first { $0.field == "status" }.map { shown($0.current.value, field: fields.first { $0.id == "status" }) }
        return ItemRow(id: item.id, title: item.title, status: status, values: rows,
                       findings: found.rows(findings.suffix(shownFindings)), findingCount: findings.count,
                       hasValues: !rows.isEmpty, hasFindings: !findings.isEmpty, isEmpty: rows.isEmpty && findings.isEmpty,
                       moreFindings: findings.count > shownFindings ? FindingsPage.href(unit: unit, item: item.id, page: 1) : nil)
    }

    /// A value as people read it: a choice's title, a number with its unit.
    static func shown(_ value: String, field: FieldDefinition?) -> String {
        guard let field else { return value }
        let title = field.values?.first { $0.id == value }?.title ?? value
        return field.unit.map { "\(title) \($0)" } ?? title
    }

    static func finding(_ finding: Dataset.Finding, input: ExportInput) -> FindingRow {
        FindingRow(
            kind: finding.kind.vietnameseTitle, text: finding.text, who: input.holder(finding.device), device: finding.device,
            when: VietnamTime.format(finding.timestamp), isRetracted: finding.retraction != nil,
            retraction: finding.retraction.map { "Đã rút lại: \($0.value) (\(input.holder($0.device)), \(VietnamTime.format($0.timestamp)))" },
            attachments: finding.attachments.map(attachment(input: input)), hasAttachments: !finding.attachments.isEmpty)
    }

    static func attachment(input: ExportInput) -> (Dataset.Attachment) -> AttachmentRow {
        { attachment in
                let file = attachment.descriptor
                return AttachmentRow(name: file.name, detail: "\(file.type.rawValue), \(ReportDocument.size(file.size)), \(input.holder(attachment.device)), \(VietnamTime.format(attachment.timestamp))",
                                     href: input.exportedPath(of: file).map { "/" + $0 }, isImage: file.type.isImage)
        }
    }
}

import Foundation

/// An inspection plan: its dates, the units it inspects, and the checklist that follows the report outline.
///
/// A plan is data. It is read from a JSON file (`inspectorsync-plan/1`, documented in
/// `docs/plan-format.md`) so that next year's plan loads without a recompile.
///
/// ```swift
/// let plan = try Plan.decode(from: data)
/// let item = try plan.item("II.5")
/// let field = try plan.field("fund_percent", of: item)
/// ```
public struct Plan: Codable, Hashable, Sendable {
    /// The format tag every plan file must carry.
    public static let formatTag = "inspectorsync-plan/1"

    /// The plan's key dates and deadlines.
    public struct Dates: Codable, Hashable, Sendable {
        public var inspectionFrom: String
        public var inspectionTo: String
        public var inspectionPeriodText: String?
        public var documentsFrom: String
        public var noticeWorkingDays: Int
        public var reportDaysBefore: Int
        public var selfInspectionReportDue: String
    }

    /// A body the plan inspects.
    public struct Unit: Codable, Hashable, Sendable {
        /// How a unit takes part: inspected by the team, or inspecting itself and reporting.
        public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
            case direct
            case `self`
        }
        public var id: String
        public var name: String
        public var kind: Kind
        public var parent: String?

        public init(id: String, name: String, kind: Kind, parent: String? = nil) {
            self.id = id
            self.name = name
            self.kind = kind
            self.parent = parent
        }
    }

    /// A heading of the outline above the items (a section such as `II`, or a group such as `II.2.a`).
    public struct Heading: Codable, Hashable, Sendable {
        public var id: String
        public var title: String
    }

    /// One checklist item: a heading of the report outline.
    public struct Item: Codable, Hashable, Sendable {
        public var id: String
        public var section: String
        public var title: String
        public var guidance: String
        /// The item's own typed fields, after the plan's common ones.
        public var fields: [FieldDefinition]
    }

    /// A remark recorded in the plan file, such as a discrepancy in the source text.
    public struct Note: Codable, Hashable, Sendable {
        public var topic: String
        public var text: String
    }

    public var format: String
    public var id: String
    public var reference: String
    public var title: String
    public var issuer: String
    public var issued: String
    public var dates: Dates
    public var holidays: [String]
    /// Weekend days that are working days (make-up days for a bridged holiday), `YYYY-MM-DD`; optional.
    public var makeUpWorkingDays: [String]?
    public var ratings: [FieldDefinition.EnumValue]
    public var units: [Unit]
    public var commonFields: [FieldDefinition]
    public var sections: [Heading]
    public var groups: [Heading]?
    public var items: [Item]
    public var notes: [Note]

    /// Every field of an item: the common fields, then the item's own.
    public func fields(of item: Item) -> [FieldDefinition] {
        commonFields + item.fields
    }

    /// The item with this id, or an error that lists the ids that exist.
    public func item(_ id: String) throws(CoreError) -> Item {
        guard let item = items.first(where: { $0.id == id }) else {
            throw CoreError(.unknownItem, "unknown item '\(id.excerpt(40))'; items are: \(items.map(\.id).joined(separator: ", "))")
        }
        return item
    }

    /// The field with this id on `item`, or an error that lists the item's fields.
    public func field(_ id: String, of item: Item) throws(CoreError) -> FieldDefinition {
        let all = fields(of: item)
        guard let field = all.first(where: { $0.id == id }) else {
            throw CoreError(.unknownField, "item \(item.id) has no field '\(id.excerpt(40))'; its fields are: \(all.map(\.id).joined(separator: ", "))")
        }
        return field
    }

    /// The position of an item in the outline, for ordering; items not in the plan sort last.
    public func itemIndex(_ id: String) -> Int {
        items.firstIndex(where: { $0.id == id }) ?? Int.max
    }

    /// The public holidays as dates.
    public var holidayDates: Set<CalendarDate> {
        Set(holidays.compactMap { try? CalendarDate(iso: $0) })
    }

    /// The make-up working days as dates.
    public var makeUpWorkingDates: Set<CalendarDate> {
        Set((makeUpWorkingDays ?? []).compactMap { try? CalendarDate(iso: $0) })
    }

    /// Whether `day` is a working day: not a holiday, and not a weekend unless it is a make-up day.
    public func isWorkingDay(_ day: CalendarDate) -> Bool {
        if holidayDates.contains(day) { return false }
        return !day.isWeekend || makeUpWorkingDates.contains(day)
    }
}

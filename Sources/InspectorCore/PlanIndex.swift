/// Constant-time lookups of a plan's items and fields, for validating operations in bulk.
///
/// ```swift
/// let index = PlanIndex(plan)
/// let field = try index.field("fund_percent", of: "II.5")
/// ```
public struct PlanIndex: Sendable {
    public let plan: Plan
    private let items: [String: Plan.Item]
    private let fields: [String: [String: FieldDefinition]]

    public init(_ plan: Plan) {
        self.plan = plan
        var items: [String: Plan.Item] = [:]
        var fields: [String: [String: FieldDefinition]] = [:]
        for item in plan.items {
            items[item.id] = item
            fields[item.id] = Dictionary(plan.fields(of: item).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
        self.items = items
        self.fields = fields
    }

    /// The item with this id, or the plan's error listing the ids that exist.
    public func item(_ id: String) throws(CoreError) -> Plan.Item {
        if let item = items[id] { return item }
        return try plan.item(id)
    }

    /// The field `id` of item `item`, or the plan's error listing what exists.
    public func field(_ id: String, of item: String) throws(CoreError) -> FieldDefinition {
        if let field = fields[item]?[id] { return field }
        return try plan.field(id, of: plan.item(item))
    }
}

/// The merged dataset of a replica or of the hub: one canonical shape, documented in `docs/dataset.md`.
///
/// Two replicas that hold the same operations build equal datasets, and ``canonicalJSON()`` prints
/// them byte for byte the same: every array has a fixed order and every object fixed keys.
public struct Dataset: Hashable, Sendable {
    /// One stored value of a field, with its provenance.
    public struct Version: Hashable, Sendable {
        public var value: String
        public var device: String
        public var sequence: Int64
        public var timestamp: HLCTimestamp
        public init(value: String, device: String, sequence: Int64, timestamp: HLCTimestamp) {
            self.value = value
            self.device = device
            self.sequence = sequence
            self.timestamp = timestamp
        }
    }

    /// The current value of one field: the version with the greatest timestamp.
    public struct Value: Hashable, Sendable {
        public var unit: String
        public var item: String
        public var field: String
        public var current: Version
        public init(unit: String, item: String, field: String, current: Version) {
            self.unit = unit
            self.item = item
            self.field = field
            self.current = current
        }
    }

    /// A file attached to a finding (an `attachment_add`), with its provenance.
    public struct Attachment: Hashable, Sendable {
        public var descriptor: AttachmentDescriptor
        public var device: String
        public var sequence: Int64
        public var timestamp: HLCTimestamp
        public init(descriptor: AttachmentDescriptor, device: String, sequence: Int64, timestamp: HLCTimestamp) {
            self.descriptor = descriptor
            self.device = device
            self.sequence = sequence
            self.timestamp = timestamp
        }
    }

    /// A finding, with its retraction if any.
    public struct Finding: Hashable, Sendable {
        public var id: String
        public var unit: String
        public var item: String?
        public var kind: FindingKind
        public var text: String
        public var device: String
        public var timestamp: HLCTimestamp
        public var retraction: Version?
        /// The files attached to it, in timestamp order (a retraction covers them too).
        public var attachments: [Attachment]
        public init(id: String, unit: String, item: String?, kind: FindingKind, text: String,
                    device: String, timestamp: HLCTimestamp, retraction: Version?, attachments: [Attachment] = []) {
            self.attachments = attachments
            self.id = id
            self.unit = unit
            self.item = item
            self.kind = kind
            self.text = text
            self.device = device
            self.timestamp = timestamp
            self.retraction = retraction
        }
    }

    /// A field that more than one device set: the winner, and the latest value of each other device.
    public struct Conflict: Hashable, Sendable {
        public var unit: String
        public var item: String
        public var field: String
        public var winner: Version
        /// Newest first.
        public var losers: [Version]
        public init(unit: String, item: String, field: String, winner: Version, losers: [Version]) {
            self.unit = unit
            self.item = item
            self.field = field
            self.winner = winner
            self.losers = losers
        }
    }

    public var plan: Plan
    public var units: [Plan.Unit]
    public var values: [Value]
    public var findings: [Finding]
    public var conflicts: [Conflict]

    /// Builds a dataset and puts every array in its canonical order.
    ///
    /// - Parameters:
    ///   - units: the units, in the order they are listed (the plan's order, then added units by id).
    public init(plan: Plan, units: [Plan.Unit], values: [Value], findings: [Finding], conflicts: [Conflict]) {
        self.plan = plan
        self.units = units
        self.values = Self.sortedByField(values, units: units, plan: plan) { ($0.unit, $0.item, $0.field) }
        self.conflicts = Self.sortedByField(conflicts, units: units, plan: plan) { ($0.unit, $0.item, $0.field) }
            .map { conflict in
                var sorted = conflict
                sorted.losers.sort { $0.timestamp > $1.timestamp }
                return sorted
            }
        self.findings = findings.sorted { Self.precedes(($0.timestamp, $0.id), ($1.timestamp, $1.id)) }
            .map { finding in
                var sorted = finding
                sorted.attachments = Self.ordered(finding.attachments)
                return sorted
            }
    }

    /// Elements that each name a field, in the order of ``values`` and ``conflicts``: by unit (in
    /// the order of `units`), then item (the plan's order), then field (the item's order); an id
    /// that is not listed comes after the listed ones, ordered by id.
    public static func sortedByField<Element>(_ elements: [Element], units: [Plan.Unit], plan: Plan,
                                              field: (Element) -> (unit: String, item: String, field: String)) -> [Element] {
        let unitIndex = Dictionary(units.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let itemIndex = Dictionary(plan.items.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        func fieldIndex(_ item: String, _ field: String) -> Int {
            guard let index = itemIndex[item] else { return Int.max }
            return plan.fields(of: plan.items[index]).firstIndex { $0.id == field } ?? Int.max
        }
        func key(_ element: Element) -> (Int, String, Int, String, Int, String) {
            let (unit, item, field) = field(element)
            return (unitIndex[unit] ?? Int.max, unit, itemIndex[item] ?? Int.max, item, fieldIndex(item, field), field)
        }
        return elements.map { (key($0), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The order of ``findings``: by timestamp, then by id.
    public static func precedes(_ a: (timestamp: HLCTimestamp, id: String), _ b: (timestamp: HLCTimestamp, id: String)) -> Bool {
        a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.id < b.id
    }

    /// A finding's attachments in the order ``Finding/attachments`` holds them: by timestamp, then sequence number.
    public static func ordered(_ attachments: [Attachment]) -> [Attachment] {
        attachments.sorted { ($0.timestamp, $0.sequence) < ($1.timestamp, $1.sequence) }
    }
}

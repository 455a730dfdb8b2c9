import InspectorCore

/// Builds the operations of a fuzzed hub session from the choices of its input.
///
/// Each op starts well-formed — a `set` of a field of the plan with a canonical value, a
/// `finding_add`, or a `finding_retract` of a finding the hub holds, on a unit of the author's scope,
/// stamped a little before the hub's clock — or as an op of `Protocol/vectors` re-authored for the
/// session. Then, a third of the time, one or two of its parts are pushed to an edge
/// (``EdgeValues``): a time or counter at an `Int64` or protocol boundary or at the hub's clock
/// ± 10 minutes ± 1 (with the counter's last value), an odd or oversized text, a unit outside the scope or unknown, a retraction of
/// another unit's finding or of an unknown one, a wrong shape for the kind, an unknown item or field,
/// another device's id, a sequence number at an edge or taken by an earlier op of the batch.
struct HubOpMaker: Sendable {
    /// What an op is made in view of.
    struct Context {
        /// The device whose op it is (the pusher, or a bundle's author).
        var author: String
        /// The sequence number it gets unless a deviation changes it.
        var sequence: Int64
        /// The hub's clock.
        var now: Int64
        /// The units the author may write, sorted; may be empty (a bundle's stranger).
        var scope: [String]
        /// Every unit the hub knows, sorted.
        var units: [String]
        /// Every enrolled device.
        var devices: [String]
        /// The findings the hub holds: id, unit, item; sorted by id.
        var findings: [(id: String, unit: String, item: String?)]
        /// The ops made before this one in the same batch.
        var earlier: [Op]
    }

    /// An op being made, its parts free to change before it is put together.
    private struct Draft {
        var device: String
        var sequence: Int64
        var millis: Int64
        var counter: Int64
        var kind: Op.Kind
        var unit: String
        var item: String?
        var field: String?
        /// For a `finding_add`, nil means `device/sequence` as it ends up.
        var finding: String?
        var findingKind: FindingKind?
        var value: String

        var op: Op {
            let id = kind == .findingAdd ? finding ?? Op.findingID(device: device, sequence: sequence) : finding
            return Op(device: device, sequence: sequence, timestamp: HLCTimestamp(millis: millis, counter: counter, device: device),
                      kind: kind, unit: unit, item: item, field: field, finding: id, findingKind: findingKind, value: value)
        }
    }

    /// Every (item, field) pair of the plan.
    let fields: [(item: String, field: FieldDefinition)]
    /// Every item id of the plan.
    let items: [String]
    /// Ops of `Protocol/vectors`, re-authored as they are used.
    let templates: [Op]

    init(plan: Plan, templates: [Op]) {
        fields = plan.items.flatMap { item in plan.fields(of: item).map { (item.id, $0) } }
        items = plan.items.map(\.id)
        self.templates = templates
    }

    /// One op.
    func make(_ reader: inout FuzzInputReader, _ context: Context) -> Op {
        var draft = base(&reader, context)
        for _ in 0..<reader.pick([0, 0, 0, 0, 0, 0, 1, 1, 2]) { deviate(&draft, &reader, context) }
        return draft.op
    }

    /// A canonical value of `field`, or (one time in eight) one at its edges.
    func value(of field: FieldDefinition, _ reader: inout FuzzInputReader) -> String {
        if reader.chance(12) { return edgeValue(of: field, &reader) }
        switch field.type {
        case .enum: return reader.pick(field.values?.map(\.id) ?? ["x"])
        case .integer: return reader.pick(["0", "1", "7", "42", "2024", String(repeating: "9", count: 30)])
        case .decimal: return reader.pick(["0", "12.5", "0.001", "1500000", String(repeating: "9", count: 30)])
        case .percent: return reader.pick(["0", "12.5", "100", "99.99", "0.01"])
        case .date: return reader.pick(["2024-06-20", "2024-02-29"])
        case .text: return reader.pick(EdgeValues.plainTexts)
        }
    }

    private func edgeValue(of field: FieldDefinition, _ reader: inout FuzzInputReader) -> String {
        switch reader.int(0...3) {
        case 0: return reader.pick(EdgeValues.edgeTexts)
        case 1: return reader.pick(EdgeValues.numbers)
        case 2: return reader.pick(EdgeValues.dates)
        default:
            // A canonical value of another field: an enum id for a number, a number for an enum.
            let other = reader.pick(fields).field
            return other.type == field.type ? reader.pick(EdgeValues.edgeTexts) : value(of: other, &reader)
        }
    }

    /// A well-formed op, or a vector's op re-authored.
    private func base(_ reader: inout FuzzInputReader, _ context: Context) -> Draft {
        let millis = context.now &- reader.pick(EdgeValues.ordinaryLag)
        let counter = Int64(reader.int(0...3))
        let unit = context.scope.isEmpty ? reader.pick(context.units) : reader.pick(context.scope)
        if !templates.isEmpty && reader.chance(15) {
            let template = reader.pick(templates)
            return Draft(device: context.author, sequence: context.sequence, millis: millis, counter: counter, kind: template.kind,
                         unit: template.unit, item: template.item, field: template.field,
                         finding: template.kind == .findingAdd ? nil : template.finding, findingKind: template.findingKind,
                         value: template.value)
        }
        var draft = Draft(device: context.author, sequence: context.sequence, millis: millis, counter: counter, kind: .set,
                          unit: unit, item: nil, field: nil, finding: nil, findingKind: nil, value: "")
        switch reader.int(0...9) {
        case 0...5:
            let (item, field) = reader.pick(fields)
            draft.item = item
            draft.field = field.id
            draft.value = value(of: field, &reader)
        case 6...7:
            makeFindingAdd(&draft, &reader)
        default:
            let targets = retractable(context)
            guard !targets.isEmpty else { makeFindingAdd(&draft, &reader); break }
            let target = reader.pick(targets)
            // A retraction, or (one time in three) a file attached to the finding (PROTOCOL.md 6.6).
            draft.kind = reader.chance(33) ? .attachmentAdd : .findingRetract
            draft.unit = target.unit
            draft.item = target.item
            draft.finding = target.id
            draft.value = draft.kind == .attachmentAdd ? reader.pick(EdgeValues.attachmentValues) : reader.pick(EdgeValues.plainTexts)
        }
        return draft
    }

    private func makeFindingAdd(_ draft: inout Draft, _ reader: inout FuzzInputReader) {
        draft.kind = .findingAdd
        draft.item = reader.chance(70) ? reader.pick(items) : nil
        draft.field = nil
        draft.finding = nil
        draft.findingKind = reader.pick(FindingKind.allCases)
        draft.value = reader.pick(EdgeValues.plainTexts)
    }

    /// Findings the author may retract: those held on units of its scope, and those added earlier in the batch.
    private func retractable(_ context: Context) -> [(id: String, unit: String, item: String?)] {
        let scope = Set(context.scope)
        var targets = context.findings.filter { scope.contains($0.unit) }
        for op in context.earlier where op.kind == .findingAdd {
            if let id = op.finding { targets.append((id, op.unit, op.item)) }
        }
        return targets
    }

    /// Pushes one part of the op to an edge.
    private func deviate(_ draft: inout Draft, _ reader: inout FuzzInputReader, _ context: Context) {
        switch reader.int(0...15) {
        case 0:
            draft.millis = reader.pick(EdgeValues.absoluteMillis)
        case 1:
            draft.millis = context.now &+ reader.pick(EdgeValues.relativeMillis)
        case 2, 15:
            let stamp = reader.pick(EdgeValues.relativeStamps)
            draft.millis = context.now &+ stamp.millis
            draft.counter = stamp.counter
        case 3:
            draft.counter = reader.pick(EdgeValues.counters)
        case 4:
            draft.value = reader.pick(EdgeValues.edgeTexts)
        case 5:
            if let field = fields.first(where: { $0.item == draft.item && $0.field.id == draft.field })?.field {
                draft.value = edgeValue(of: field, &reader)
            } else {
                draft.value = reader.pick(EdgeValues.numbers)
            }
        case 6:
            // A unit outside the author's scope, or one the hub does not know.
            let outside = context.units.filter { !context.scope.contains($0) }
            draft.unit = !outside.isEmpty && reader.chance(70) ? reader.pick(outside) : reader.pick(EdgeValues.strangerUnits)
        case 7, 8:
            // A retraction reaching for another unit's finding, an unknown one, or one added later.
            draft.kind = .findingRetract
            draft.field = nil
            draft.findingKind = nil
            let foreign = context.findings.filter { $0.unit != draft.unit }
            let batchFindings = context.earlier.compactMap { $0.kind == .findingAdd ? $0 : nil }
            switch reader.int(0...4) {
            case 0 where !foreign.isEmpty:
                let target = reader.pick(foreign)
                draft.finding = target.id
                draft.item = reader.chance(50) ? target.item : draft.item
            case 1 where !batchFindings.isEmpty:
                let target = reader.pick(batchFindings)
                draft.finding = target.finding
                draft.unit = reader.chance(50) ? draft.unit : target.unit
            case 2:
                // The finding this very device's next op would add.
                draft.finding = Op.findingID(device: context.author, sequence: draft.sequence &+ 1)
            default:
                draft.finding = reader.pick(EdgeValues.strangerFindings)
            }
            if draft.value.isEmpty { draft.value = reader.pick(EdgeValues.plainTexts) }
        case 9:
            // A shape the kind does not allow.
            switch reader.int(0...4) {
            case 0: draft.finding = Op.findingID(device: draft.device, sequence: draft.sequence)
            case 1: draft.field = draft.field == nil ? "status" : nil
            case 2: draft.findingKind = draft.findingKind == nil ? .observation : nil
            case 3: draft.finding = Op.findingID(device: draft.device, sequence: draft.sequence &+ 1)
            default: draft.item = nil
            }
        case 10:
            if reader.chance(50) { draft.item = reader.pick(EdgeValues.strangerItems) } else { draft.field = reader.pick(EdgeValues.strangerFields) }
        case 11:
            // Another item's field, with a value canonical for it.
            let (item, field) = reader.pick(fields)
            draft.kind = .set
            draft.finding = nil
            draft.findingKind = nil
            draft.field = field.id
            draft.value = value(of: field, &reader)
            if reader.chance(50) { draft.item = item }
        case 12:
            if let earlier = context.earlier.last, reader.chance(50) {
                draft.sequence = earlier.sequence
            } else {
                draft.sequence = reader.pick(EdgeValues.sequences)
            }
        case 13:
            let others = context.devices.filter { $0 != context.author }
            draft.device = !others.isEmpty && reader.chance(60) ? reader.pick(others) : reader.pick(EdgeValues.strangerDevices)
        default:
            // A finding about the unit as a whole, or a retraction naming another item than its finding's.
            if draft.kind == .set { draft.item = reader.pick(items) } else { draft.item = draft.item == nil ? reader.pick(items) : nil }
        }
    }
}

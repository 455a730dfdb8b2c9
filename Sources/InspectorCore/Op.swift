/// One change recorded in a replica's log.
///
/// Every change a device makes is an operation, identified by the device id and a gapless
/// per-device ``sequence`` number starting at 1, ordered by its hybrid logical clock ``timestamp``.
/// The log keeps every operation forever, losing values included.
///
/// The parts that are used depend on ``kind``:
///
/// | kind | unit | item | field | finding | findingKind | value |
/// |---|---|---|---|---|---|---|
/// | `set` | yes | yes | yes | – | – | the field's canonical value |
/// | `finding_add` | yes | optional | – | the new id, `device/sequence` | yes | the finding's text |
/// | `finding_retract` | the finding's unit | the finding's item, optional | – | the retracted id | – | the reason |
/// | `attachment_add` | the finding's unit | the finding's item, optional | – | the finding's id | – | the file's ``AttachmentDescriptor`` |
///
/// ```swift
/// let op = Op.set(device: "dev-a", sequence: 1, timestamp: t,
///                        unit: "muong-lay", item: "II.5", field: "fund_percent", value: "12.5")
/// ```
public struct Op: Hashable, Sendable {
    /// The kinds of operation.
    public enum Kind: String, Sendable, CaseIterable {
        /// Sets one field of one checklist item of one unit; last writer wins.
        case set
        /// Appends a finding.
        case findingAdd = "finding_add"
        /// Marks a finding retracted, with a reason.
        case findingRetract = "finding_retract"
        /// Attaches a file (a photo, a scan, a PDF) to a finding; append-only, like findings.
        case attachmentAdd = "attachment_add"
    }

    public var device: String
    public var sequence: Int64
    public var timestamp: HLCTimestamp
    public var kind: Kind
    public var unit: String
    public var item: String?
    public var field: String?
    public var finding: String?
    public var findingKind: FindingKind?
    public var value: String

    public init(device: String, sequence: Int64, timestamp: HLCTimestamp, kind: Kind, unit: String,
                item: String? = nil, field: String? = nil, finding: String? = nil,
                findingKind: FindingKind? = nil, value: String) {
        self.device = device
        self.sequence = sequence
        self.timestamp = timestamp
        self.kind = kind
        self.unit = unit
        self.item = item
        self.field = field
        self.finding = finding
        self.findingKind = findingKind
        self.value = value
    }

    /// The id a `finding_add` gives its finding: `device/sequence`.
    public static func findingID(device: String, sequence: Int64) -> String {
        "\(device)/\(sequence)"
    }

    /// Makes a `set` operation.
    public static func set(device: String, sequence: Int64, timestamp: HLCTimestamp,
                           unit: String, item: String, field: String, value: String) -> Op {
        Op(device: device, sequence: sequence, timestamp: timestamp, kind: .set,
                  unit: unit, item: item, field: field, value: value)
    }

    /// Makes a `finding_add` operation; the finding's id is derived from the device and sequence.
    public static func findingAdd(device: String, sequence: Int64, timestamp: HLCTimestamp,
                                  unit: String, item: String?, kind: FindingKind, text: String) -> Op {
        Op(device: device, sequence: sequence, timestamp: timestamp, kind: .findingAdd,
                  unit: unit, item: item, finding: findingID(device: device, sequence: sequence),
                  findingKind: kind, value: text)
    }

    /// Makes a `finding_retract` operation.
    public static func findingRetract(device: String, sequence: Int64, timestamp: HLCTimestamp,
                                      unit: String, item: String?, finding: String, reason: String) -> Op {
        Op(device: device, sequence: sequence, timestamp: timestamp, kind: .findingRetract,
                  unit: unit, item: item, finding: finding, value: reason)
    }

    /// Makes an `attachment_add` operation: `descriptor`'s file attached to finding `finding`.
    public static func attachmentAdd(device: String, sequence: Int64, timestamp: HLCTimestamp,
                                     unit: String, item: String?, finding: String, descriptor: AttachmentDescriptor) -> Op {
        Op(device: device, sequence: sequence, timestamp: timestamp, kind: .attachmentAdd,
           unit: unit, item: item, finding: finding, value: descriptor.value)
    }

    /// The file an `attachment_add` attaches; nil for other kinds or a value that is no descriptor.
    public var attachment: AttachmentDescriptor? {
        guard kind == .attachmentAdd else { return nil }
        return try? AttachmentDescriptor(parsing: value)
    }

    /// Checks that the parts fit the kind and the id rules, without looking at the plan.
    ///
    /// - Throws: ``CoreError/Code/malformedOperation`` naming the part that does not fit.
    public func validateShape() throws(CoreError) {
        func fail(_ why: String) -> CoreError {
            CoreError(.malformedOperation, "operation \(device.excerpt(64))#\(sequence): \(why)")
        }
        guard Identifier.isValid(device) else { throw fail("device id is not valid") }
        guard sequence >= 1 else { throw fail("sequence number must be 1 or more") }
        guard timestamp.device == device else { throw fail("timestamp device differs from the operation's device") }
        guard timestamp.millis >= 0, timestamp.counter >= 0 else { throw fail("timestamp is negative") }
        guard timestamp.millis <= HLCTimestamp.validMillis.upperBound else {
            throw fail("timestamp \(timestamp.millis) is after 9999-12-31T23:59:59.999Z (\(HLCTimestamp.validMillis.upperBound))")
        }
        guard timestamp.counter <= HLCTimestamp.maximumCounter else {
            throw fail("clock counter \(timestamp.counter) is over \(HLCTimestamp.maximumCounter)")
        }
        guard Identifier.isValid(unit) else { throw fail("unit id is not valid") }
        switch kind {
        case .set:
            guard item != nil, let field, !field.isEmpty else { throw fail("a set needs an item and a field") }
            guard finding == nil, findingKind == nil else { throw fail("a set carries no finding") }
        case .findingAdd:
            guard findingKind != nil else { throw fail("a finding_add needs a finding kind") }
            guard finding == Op.findingID(device: device, sequence: sequence) else {
                throw fail("a finding_add's id must be device/sequence")
            }
            guard field == nil else { throw fail("a finding_add carries no field") }
        case .findingRetract:
            guard let finding, !finding.isEmpty else { throw fail("a finding_retract needs a finding id") }
            guard field == nil, findingKind == nil else { throw fail("a finding_retract carries no field or kind") }
        case .attachmentAdd:
            guard let finding, !finding.isEmpty else { throw fail("an attachment_add needs a finding id") }
            guard field == nil, findingKind == nil else { throw fail("an attachment_add carries no field or kind") }
        }
        guard !value.isEmpty else { throw fail("value is empty") }
        // Compare scalars: `String ==` uses canonical equivalence, so it would call any text NFC.
        guard Text.isNFC(value) else { throw fail("text is not in Unicode NFC") }
    }
}

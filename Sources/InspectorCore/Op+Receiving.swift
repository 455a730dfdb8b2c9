/// Where a finding belongs: what a retraction of it must carry, and what its scope check uses.
public struct FindingLocation: Hashable, Sendable {
    /// The unit the finding is about.
    public var unit: String
    /// The checklist item it stands under, or nil for the unit as a whole.
    public var item: String?

    public init(unit: String, item: String?) {
        self.unit = unit
        self.item = item
    }
}

extension Op {
    /// Checks that the operation is not stamped in the future of the receiver.
    ///
    /// - Parameter now: the receiver's clock in ms: the hub's wall clock, or a device's wall clock
    ///   plus its measured offset to the hub.
    /// - Throws: ``CoreError/Code/clockAhead`` when ``HLCTimestamp/millis`` is more than
    ///   ``HybridLogicalClock/futureTolerance`` ahead of `now`.
    public func checkNotAhead(of now: Int64) throws(CoreError) {
        let limit = HybridLogicalClock.physicalMillis(now: now, offset: HybridLogicalClock.futureTolerance)
        guard timestamp.millis <= limit else {
            throw CoreError(.clockAhead, "operation \(device.excerpt(64))#\(sequence) is stamped \(timestamp.isoTime), more than \(HybridLogicalClock.futureTolerance / 60_000) minutes ahead of the receiver's clock (\(ISOTime.format(millis: HLCTimestamp.clamp(millis: now)))); the device that wrote it must record it again with a corrected clock")
        }
    }

    /// Whether this is a `finding_retract` or an `attachment_add` of a finding its own device added
    /// (ids are `device/sequence`).
    ///
    /// Such an op may reach a receiver before its finding (a device's batches arriving out of
    /// order); the finding, when it comes, is checked against its author's scope itself.
    public var referencesOwnFinding: Bool {
        referencedFinding?.hasPrefix(device + "/") ?? false
    }

    /// The finding a `finding_retract` or an `attachment_add` names, whose place it must carry; nil
    /// for other kinds.
    public var referencedFinding: String? { kind == .findingRetract || kind == .attachmentAdd ? finding : nil }

    /// Checks a `finding_retract` or an `attachment_add` against the finding it names.
    ///
    /// Such an op carries the unit of its finding, and its item when it names one; the unit is what a
    /// scope check uses, so it can never reach into another unit (PROTOCOL.md 6.2).
    ///
    /// - Parameter target: where the named finding belongs, or nil when the receiver does not hold it.
    /// - Throws: ``CoreError/Code/unknownFinding`` or ``CoreError/Code/retractionMismatch``.
    public func checkReference(of target: FindingLocation?) throws(CoreError) {
        guard let finding = referencedFinding else { return }
        let verb = kind == .findingRetract ? "retracts" : "attaches a file to"
        guard let target else {
            throw CoreError(.unknownFinding, "operation \(device.excerpt(64))#\(sequence) \(verb) finding '\(finding.excerpt(80))', which the receiver does not hold")
        }
        guard target.unit == unit else {
            throw CoreError(.retractionMismatch, "operation \(device.excerpt(64))#\(sequence) \(verb) finding '\(finding.excerpt(80))' of unit '\(target.unit)' but names unit '\(unit.excerpt(64))'")
        }
        guard item == nil || target.item == item else {
            throw CoreError(.retractionMismatch, "operation \(device.excerpt(64))#\(sequence) \(verb) finding '\(finding.excerpt(80))' of item '\(target.item ?? "none")' but names item '\((item ?? "none").excerpt(32))'")
        }
    }

    /// Where the finding this `finding_add` creates belongs; nil for other kinds.
    public var addedFinding: (id: String, location: FindingLocation)? {
        guard kind == .findingAdd, let finding else { return nil }
        return (finding, FindingLocation(unit: unit, item: item))
    }
}

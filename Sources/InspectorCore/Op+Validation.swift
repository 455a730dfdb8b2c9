extension Op {
    /// Checks an operation against a plan and the known units: ids exist, and the value is the
    /// canonical form its field or kind requires.
    ///
    /// Every operation is checked this way before it is written, whether it was made locally or
    /// received from a bundle or a peer, so a replica never holds a value its plan would refuse.
    ///
    /// - Parameters:
    ///   - plan: the plan whose items and fields apply.
    ///   - unitIDs: the units the replica knows.
    /// - Throws: a ``CoreError`` naming what does not fit.
    public func validate(against plan: Plan, unitIDs: Set<String>) throws(CoreError) {
        try validate(against: PlanIndex(plan), unitIDs: unitIDs)
    }

    /// Checks an operation like ``validate(against:unitIDs:)-(Plan,_)``, with a prebuilt index.
    public func validate(against index: PlanIndex, unitIDs: Set<String>) throws(CoreError) {
        try validateShape()
        guard unitIDs.contains(unit) else {
            throw CoreError(.unknownUnit, "operation \(device)#\(sequence): unknown unit '\(unit)'")
        }
        switch kind {
        case .set:
            let field = try index.field(self.field ?? "", of: item ?? "")
            let canonical = try field.normalize(value)
            guard canonical == value else {
                throw CoreError(.invalidValue, "operation \(device)#\(sequence): value of '\(field.id)' is not in canonical form")
            }
        case .attachmentAdd:
            if let item { _ = try index.item(item) }
            do throws(CoreError) {
                _ = try AttachmentDescriptor(parsing: value)
            } catch {
                // In an op, a size over the limit is a value the op may not hold, like any other
                // (PROTOCOL.md 6.6); `attachment_too_large` is for a file a device is asked to attach.
                throw CoreError(.invalidValue, "operation \(device.excerpt(64))#\(sequence): \(error.message)")
            }
        case .findingAdd, .findingRetract:
            if let item { _ = try index.item(item) }
            let what = kind == .findingAdd ? "finding text" : "retraction reason"
            guard !Text.isCanonical(value, maximumLength: Text.defaultMaximumLength) else { return }
            let checked = try Text.validated(value, what: what)
            guard checked == value else {
                throw CoreError(.invalidText, "operation \(device)#\(sequence): \(what) has surrounding white space")
            }
        }
    }
}

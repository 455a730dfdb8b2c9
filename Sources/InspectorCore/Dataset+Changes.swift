extension Dataset {
    /// One difference between two datasets of the same replica, as a user sees it.
    public enum Change: Hashable, Sendable {
        /// A field shows a new value (set for the first time when `previous` is nil).
        case value(Value, previous: Version?)
        /// A finding appeared.
        case finding(Finding)
        /// A finding shows a retraction, or another retraction than before.
        case retraction(Finding)
        /// A unit appeared (added at the hub, or a sub-unit).
        case unit(Plan.Unit)
        /// A file was attached to a finding.
        case attachment(Attachment, finding: Finding)
    }

    /// What changed from `previous` to this dataset, in this dataset's canonical order: units, then
    /// values, then findings and retractions.
    ///
    /// Values and findings never disappear from a replica (its log only grows), so only what is new
    /// or different is listed. A new finding that is already retracted is listed twice: as a finding,
    /// then as a retraction.
    public func changes(since previous: Dataset) -> [Change] {
        var changes: [Change] = []
        let knownUnits = Set(previous.units.map(\.id))
        for unit in units where !knownUnits.contains(unit.id) { changes.append(.unit(unit)) }
        var before: [FieldKey: Version] = [:]
        before.reserveCapacity(previous.values.count)
        for value in previous.values { before[FieldKey(value)] = value.current }
        for value in values {
            let old = before[FieldKey(value)]
            if old != value.current { changes.append(.value(value, previous: old)) }
        }
        let findingsBefore = Dictionary(previous.findings.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for finding in findings {
            let old = findingsBefore[finding.id]
            if old == nil { changes.append(.finding(finding)) }
            if finding.retraction != nil && old?.retraction != finding.retraction { changes.append(.retraction(finding)) }
            let attachedBefore = Set((old?.attachments ?? []).map { [$0.device, String($0.sequence)] })
            for attachment in finding.attachments where !attachedBefore.contains([attachment.device, String(attachment.sequence)]) {
                changes.append(.attachment(attachment, finding: finding))
            }
        }
        return changes
    }

    private struct FieldKey: Hashable {
        let unit: String, item: String, field: String
        init(_ value: Value) {
            unit = value.unit
            item = value.item
            field = value.field
        }
    }
}

extension Dataset.Change: CustomStringConvertible {
    /// One line for people: what changed, where, and who wrote it.
    ///
    /// ```
    /// set muong-lay II.4 status = done (was in_progress; dev-a#3 at 2024-06-20T01:02:00.000Z)
    /// finding dev-a/4 muong-lay II.4 shortcoming: Thiếu biên bản họp (dev-a#4)
    /// retracted dev-a/4: Ghi nhầm mục (dev-b#7)
    /// unit muong-lay.na-lay: Phường Na Lay (under muong-lay)
    /// attached to dev-a/4: Biên bản.jpg (image/jpeg, 1843200 bytes, sha256 9f86d081…; dev-a#5)
    /// ```
    public var description: String {
        switch self {
        case .value(let value, let previous):
            let was = previous.map { "was \(Self.oneLine($0.value)); " } ?? ""
            return "set \(value.unit) \(value.item) \(value.field) = \(Self.oneLine(value.current.value)) (\(was)\(value.current.device)#\(value.current.sequence) at \(value.current.timestamp.isoTime))"
        case .finding(let finding):
            return "finding \(finding.id) \(finding.unit)\(finding.item.map { " \($0)" } ?? "") \(finding.kind.rawValue): \(Self.oneLine(finding.text)) (\(finding.device) at \(finding.timestamp.isoTime))"
        case .retraction(let finding):
            let retraction = finding.retraction
            return "retracted \(finding.id): \(Self.oneLine(retraction?.value ?? "")) (\(retraction.map { "\($0.device)#\($0.sequence) at \($0.timestamp.isoTime)" } ?? ""))"
        case .unit(let unit):
            return "unit \(unit.id): \(unit.name)\(unit.parent.map { " (under \($0))" } ?? "")"
        case .attachment(let attachment, let finding):
            let file = attachment.descriptor
            return "attached to \(finding.id): \(Self.oneLine(file.name)) (\(file.type.rawValue), \(file.size) bytes, sha256 \(file.hash.prefix(8))…; \(attachment.device)#\(attachment.sequence))"
        }
    }

    /// A text on one line: a line break inside a note becomes `\n`, a backslash `\\`.
    static func oneLine(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline || $0 == "\\" }) else { return text }
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\\\"
            case "\r\n", "\n": result += "\\n"
            case "\r": result += "\\r"
            case _ where character.isNewline: result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}

extension Dataset {
    /// The dataset as canonical JSON: fixed keys, fixed order, two-space indentation, a final newline.
    ///
    /// Values are typed as their field says: integers, decimals and percents are JSON numbers, the
    /// rest strings. Times are ISO 8601 UTC with milliseconds, with the clock's logical counter beside.
    public func canonicalJSON() -> String {
        jsonValue().prettyPrinted() + "\n"
    }

    /// The dataset as a ``JSONValue``.
    public func jsonValue() -> JSONValue {
        .object([
            ("plan", .object([
                ("id", .string(plan.id)),
                ("reference", .string(plan.reference)),
                ("title", .string(plan.title)),
            ])),
            ("units", .array(units.map { unit in
                .object([
                    ("id", .string(unit.id)),
                    ("name", .string(unit.name)),
                    ("kind", .string(unit.kind.rawValue)),
                    ("parent", unit.parent.map(JSONValue.string) ?? .null),
                ])
            })),
            ("items", .array(plan.items.map { item in
                .object([
                    ("id", .string(item.id)),
                    ("section", .string(item.section)),
                    ("title", .string(item.title)),
                    ("fields", .array(plan.fields(of: item).map { field in
                        .object([("id", .string(field.id)), ("type", .string(field.type.rawValue))])
                    })),
                ])
            })),
            ("values", .array(values.map { value in
                .object([
                    ("unit", .string(value.unit)),
                    ("item", .string(value.item)),
                    ("field", .string(value.field)),
                ] + versionMembers(value.current, unit: value.unit, item: value.item, field: value.field))
            })),
            ("findings", .array(findings.map(Self.findingJSON))),
            ("conflicts", .array(conflicts.map { conflict in
                .object([
                    ("unit", .string(conflict.unit)),
                    ("item", .string(conflict.item)),
                    ("field", .string(conflict.field)),
                    ("winner", .object(versionMembers(conflict.winner, unit: conflict.unit, item: conflict.item, field: conflict.field))),
                    ("losers", .array(conflict.losers.map {
                        .object(versionMembers($0, unit: conflict.unit, item: conflict.item, field: conflict.field))
                    })),
                ])
            })),
        ])
    }

    /// One finding as JSON: its retraction, and its files only when it has some (so datasets
    /// without attachments keep their bytes).
    static func findingJSON(_ finding: Finding) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(finding.id)),
            ("unit", .string(finding.unit)),
            ("item", finding.item.map(JSONValue.string) ?? .null),
            ("kind", .string(finding.kind.rawValue)),
            ("text", .string(finding.text)),
            ("device", .string(finding.device)),
            ("timestamp", .string(finding.timestamp.isoTime)),
            ("counter", .int(finding.timestamp.counter)),
            ("retracted", .bool(finding.retraction != nil)),
        ]
        if let retraction = finding.retraction {
            members.append(("retraction", .object([
                ("reason", .string(retraction.value)),
                ("device", .string(retraction.device)),
                ("timestamp", .string(retraction.timestamp.isoTime)),
                ("counter", .int(retraction.timestamp.counter)),
            ])))
        } else {
            members.append(("retraction", .null))
        }
        if !finding.attachments.isEmpty {
            members.append(("attachments", .array(finding.attachments.map { attachment in
                .object([
                    ("hash", .string(attachment.descriptor.hash)),
                    ("name", .string(attachment.descriptor.name)),
                    ("type", .string(attachment.descriptor.type.rawValue)),
                    ("size", .int(attachment.descriptor.size)),
                    ("device", .string(attachment.device)),
                    ("timestamp", .string(attachment.timestamp.isoTime)),
                    ("counter", .int(attachment.timestamp.counter)),
                ])
            })))
        }
        return .object(members)
    }

    /// The type the plan gives a field, or nil when the plan does not know it.
    public func fieldType(item: String, field: String) -> FieldDefinition.FieldType? {
        guard let definition = plan.items.first(where: { $0.id == item }) else { return nil }
        return plan.fields(of: definition).first(where: { $0.id == field })?.type
    }

    /// A value as typed JSON: a number for numeric fields, a string otherwise.
    public func typedValue(_ value: String, item: String, field: String) -> JSONValue {
        if let type = fieldType(item: item, field: field), type.isNumeric { return .number(value) }
        return .string(value)
    }

    private func versionMembers(_ version: Version, unit: String, item: String, field: String) -> [(String, JSONValue)] {
        [
            ("value", typedValue(version.value, item: item, field: field)),
            ("device", .string(version.device)),
            ("timestamp", .string(version.timestamp.isoTime)),
            ("counter", .int(version.timestamp.counter)),
        ]
    }
}

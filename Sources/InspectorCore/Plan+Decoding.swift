import Foundation

extension Plan {
    /// Reads and checks a plan file.
    ///
    /// Besides the JSON shape, it checks that ids are unique, that every enum field has values,
    /// that dates are real dates, that units have valid ids and known parents, and that text is
    /// stored in NFC (it is normalized on load).
    ///
    /// - Parameter data: the file's bytes (UTF-8 JSON).
    /// - Returns: the plan.
    /// - Throws: ``CoreError/Code/malformedPlan`` with a message that names the key or value at fault.
    public static func decode(from data: Data) throws(CoreError) -> Plan {
        var plan: Plan
        do {
            plan = try JSONDecoder().decode(Plan.self, from: data)
        } catch let error as DecodingError {
            throw CoreError(.malformedPlan, "plan file: \(describe(error))")
        } catch {
            throw CoreError(.malformedPlan, "plan file is not valid JSON")
        }
        plan.normalizeText()
        try plan.validate()
        return plan
    }

    /// The plan as the canonical JSON bytes it is stored and shipped as.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try! encoder.encode(self)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return text.isEmpty ? "top level" : String(text.drop(while: { $0 == "." }))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let at = path(context.codingPath)
            return "missing key '\(key.stringValue)' at \(at)"
        case .typeMismatch(let type, let context):
            return "wrong type at \(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "missing value at \(path(context.codingPath)): expected \(type)"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            // Foundation's description quotes the value whole ("Cannot initialize Kind from invalid String value …").
            return "invalid value at \(path(context.codingPath)): \(context.debugDescription.excerpt(120))"
        @unknown default:
            return "unreadable"
        }
    }

    private mutating func normalizeText() {
        title = Text.nfc(title)
        issuer = Text.nfc(issuer)
        for i in units.indices { units[i].name = Text.nfc(units[i].name) }
        for i in items.indices {
            items[i].title = Text.nfc(items[i].title)
            items[i].guidance = Text.nfc(items[i].guidance)
            for j in items[i].fields.indices { items[i].fields[j].normalizeText() }
        }
        for i in commonFields.indices { commonFields[i].normalizeText() }
        for i in sections.indices { sections[i].title = Text.nfc(sections[i].title) }
        for i in ratings.indices { ratings[i].title = Text.nfc(ratings[i].title) }
    }

    private func validate() throws(CoreError) {
        func fail(_ message: String) -> CoreError { CoreError(.malformedPlan, "plan file: \(message)") }
        guard format == Plan.formatTag else { throw fail("format is '\(format.excerpt(40))', expected '\(Plan.formatTag)'") }
        guard Identifier.isValid(id) else { throw fail("id '\(id.excerpt(70))' is not a valid id") }
        for (key, value) in [("issued", issued), ("dates.inspectionFrom", dates.inspectionFrom),
                             ("dates.inspectionTo", dates.inspectionTo), ("dates.documentsFrom", dates.documentsFrom),
                             ("dates.selfInspectionReportDue", dates.selfInspectionReportDue)] {
            guard (try? CalendarDate(iso: value)) != nil else { throw fail("\(key) '\(value.excerpt(40))' is not a date YYYY-MM-DD") }
        }
        for (index, day) in holidays.enumerated() where (try? CalendarDate(iso: day)) == nil {
            throw fail("holidays[\(index)] '\(day.excerpt(40))' is not a date YYYY-MM-DD")
        }
        for (index, day) in (makeUpWorkingDays ?? []).enumerated() where (try? CalendarDate(iso: day)) == nil {
            throw fail("makeUpWorkingDays[\(index)] '\(day.excerpt(40))' is not a date YYYY-MM-DD")
        }
        guard dates.noticeWorkingDays >= 0, dates.reportDaysBefore >= 0 else { throw fail("dates: day counts must not be negative") }
        guard !units.isEmpty else { throw fail("units is empty") }
        var unitIDs = Set<String>()
        for (index, unit) in units.enumerated() {
            guard Identifier.isValid(unit.id) else { throw fail("units[\(index)].id '\(unit.id.excerpt(70))' is not a valid id") }
            guard unitIDs.insert(unit.id).inserted else { throw fail("units[\(index)].id '\(unit.id)' is used twice") }
            guard !unit.name.isEmpty else { throw fail("units[\(index)].name is empty") }
        }
        for (index, unit) in units.enumerated() {
            if let parent = unit.parent, !unitIDs.contains(parent) {
                throw fail("units[\(index)].parent '\(parent.excerpt(70))' is not a unit of the plan")
            }
        }
        let commonIDs = commonFields.map(\.id)
        for required in ["status", "rating", "note"] where !commonIDs.contains(required) {
            throw fail("commonFields lacks the '\(required)' field")
        }
        try validateFields(commonFields, at: "commonFields")
        guard !items.isEmpty else { throw fail("items is empty") }
        let sectionIDs = Set(sections.map(\.id))
        var itemIDs = Set<String>()
        for (index, item) in items.enumerated() {
            guard !item.id.isEmpty, item.id.utf8.count <= 32, item.id.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw fail("items[\(index)].id '\(item.id.excerpt(40))' is not a valid item id")
            }
            guard itemIDs.insert(item.id).inserted else { throw fail("items[\(index)].id '\(item.id)' is used twice") }
            guard sectionIDs.contains(item.section) else {
                throw fail("items[\(index)].section '\(item.section.excerpt(20))' is not one of the sections")
            }
            guard !item.title.isEmpty else { throw fail("items[\(index)].title is empty") }
            try validateFields(item.fields, at: "items[\(index)].fields")
            let clash = Set(item.fields.map(\.id)).intersection(commonIDs)
            if let first = clash.sorted().first { throw fail("items[\(index)] redefines the common field '\(first)'") }
        }
    }

    private func validateFields(_ fields: [FieldDefinition], at path: String) throws(CoreError) {
        func fail(_ message: String) -> CoreError { CoreError(.malformedPlan, "plan file: \(message)") }
        var ids = Set<String>()
        for (index, field) in fields.enumerated() {
            let at = "\(path)[\(index)]"
            guard Identifier.isValid(field.id) else { throw fail("\(at).id '\(field.id.excerpt(40))' is not a valid field id") }
            guard ids.insert(field.id).inserted else { throw fail("\(at).id '\(field.id)' is used twice") }
            if field.type == .enum && (field.values ?? []).isEmpty {
                throw fail("\(at) is an enum without values")
            }
            if field.type != .enum && field.values != nil { throw fail("\(at) has values but is not an enum") }
            if let min = field.min, let max = field.max, min > max { throw fail("\(at) has min greater than max") }
            if let length = field.maxLength, length < 1 { throw fail("\(at).maxLength must be at least 1") }
        }
    }
}

extension FieldDefinition {
    mutating func normalizeText() {
        title = Text.nfc(title)
        if let values { self.values = values.map { EnumValue(id: $0.id, title: Text.nfc($0.title)) } }
        if let unit { self.unit = Text.nfc(unit) }
    }
}

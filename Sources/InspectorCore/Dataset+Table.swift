extension Dataset {
    /// A readable table of the dataset for a terminal: per unit, each item with its Vietnamese title,
    /// every field of the item — its value and who set it when, or `—` when nobody has yet — and the
    /// findings recorded under it.
    ///
    /// ```
    ///   II.4      Công tác khen thưởng
    ///       status = done   [dev-a, 2024-06-20T03:02:03.456Z]
    ///       rating = —
    /// ```
    public func textTable() -> String {
        var out = "\(plan.reference) — \(plan.title)\n"
        let valuesByUnit = Dictionary(grouping: values, by: \.unit)
        let findingsByUnit = Dictionary(grouping: findings, by: \.unit)
        for unit in units {
            out += "\n== \(unit.id): \(unit.name) (\(unit.kind.rawValue)\(unit.parent.map { ", thuộc \($0)" } ?? ""))\n"
            let unitValues = valuesByUnit[unit.id] ?? []
            let unitFindings = findingsByUnit[unit.id] ?? []
            let done = unitValues.filter { $0.field == "status" && $0.current.value == "done" }.count
            out += "   tiến độ: \(done)/\(plan.items.count) mục đã hoàn thành\n"
            for item in plan.items {
                let itemValues = unitValues.filter { $0.item == item.id }
                let itemFindings = unitFindings.filter { $0.item == item.id }
                out += "  \(item.id.padding(toLength: 9, withPad: " ", startingAt: 0)) \(item.title)\n"
                let fields = plan.fields(of: item).map(\.id)
                // The plan's fields in its order, then any value of a field the plan no longer lists.
                for field in fields + itemValues.map(\.field).filter({ !fields.contains($0) }) {
                    if let value = itemValues.first(where: { $0.field == field }) {
                        out += "      \(field) = \(value.current.value)   [\(value.current.device), \(value.current.timestamp.isoTime)]\n"
                    } else {
                        out += "      \(field) = —\n"
                    }
                }
                for finding in itemFindings { out += findingLine(finding) }
            }
            for finding in unitFindings where finding.item == nil { out += findingLine(finding) }
        }
        if !conflicts.isEmpty {
            out += "\nXung đột (fields set by more than one device):\n"
            for conflict in conflicts {
                out += "  \(conflict.unit) \(conflict.item) \(conflict.field): \(conflict.winner.value) [\(conflict.winner.device)] thắng; "
                out += conflict.losers.map { "\($0.value) [\($0.device)]" }.joined(separator: ", ") + "\n"
            }
        }
        return out
    }

    private func findingLine(_ finding: Finding) -> String {
        let state = finding.retraction.map { " (đã rút lại: \($0.value))" } ?? ""
        var line = "      • [\(finding.id)] \(finding.kind.rawValue): \(finding.text)\(state)\n"
        for attachment in finding.attachments {
            let file = attachment.descriptor
            line += "          tệp đính kèm: \(file.name) (\(file.type.rawValue), \(file.size) byte, \(file.hash.prefix(12)))\n"
        }
        return line
    }
}

extension Dataset {
    /// A readable table of the dataset for a terminal: per unit, each item with its Vietnamese title,
    /// the fields that have values, and the findings recorded under it.
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
                for value in itemValues {
                    out += "      \(value.field) = \(value.current.value)   [\(value.current.device), \(value.current.timestamp.isoTime)]\n"
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
        return "      • [\(finding.id)] \(finding.kind.rawValue): \(finding.text)\(state)\n"
    }
}

// An app's checklist screen over the library's observation API (issue #11).
//
// A UI does not poll: it observes. `ChecklistModel` is what a view model of an iOS or Android app
// (or a desktop tool) would be: it subscribes to one unit's dataset with
// `ReplicaStore.observeUnit(_:)` and turns each new dataset into a screen, naming what changed
// (`Dataset.changes(since:)`). The inspector's edits below are made through the same store, as the
// app's edit form would; a sync running in the app would reach the screen the same way.
//
// Run: swift run checklist-screen [FOLDER]   (a fresh folder for the replica; a temporary one by default)

import Foundation
import InspectorCore
import InspectorPlans
import InspectorStore

/// What the screen shows after one change: the unit's filled-in fields, its findings, what changed.
struct Screen: Sendable {
    let number: Int
    let dataset: Dataset
    let changes: [Dataset.Change]

    /// Whether the screen shows the op (its value won, its finding or retraction is there).
    func shows(_ op: Op) -> Bool {
        switch op.kind {
        case .set: dataset.values.contains { $0.current.device == op.device && $0.current.sequence == op.sequence }
        case .findingAdd: dataset.findings.contains { $0.id == op.finding }
        case .findingRetract: dataset.findings.contains { $0.retraction?.device == op.device && $0.retraction?.sequence == op.sequence }
        case .attachmentAdd: dataset.findings.contains { $0.attachments.contains { $0.device == op.device && $0.sequence == op.sequence } }
        }
    }

    /// The screen as text: a title, the changes, then each item with values and the findings.
    var text: String {
        let plan = dataset.plan
        let unitName = dataset.units.first?.name ?? "?"
        var lines = ["┌ screen \(number): \(unitName) — \(dataset.values.count) field(s) filled in, \(dataset.findings.count) finding(s)"]
        for change in changes { lines.append("│ changed: \(change)") }
        let byItem = Dictionary(grouping: dataset.values, by: \.item)
        for item in plan.items where byItem[item.id] != nil {
            let fields = byItem[item.id]!.map { "\($0.field) = \($0.current.value)" }.joined(separator: ", ")
            let title = item.title.count > 48 ? item.title.prefix(47) + "…" : item.title
            lines.append("│ \(item.id) \(title): \(fields)")
        }
        for finding in dataset.findings {
            let state = finding.retraction.map { "retracted: \($0.value)" } ?? "open"
            lines.append("│ finding \(finding.id) (\(finding.kind.rawValue), \(state)): \(finding.text)")
        }
        lines.append("└")
        return lines.joined(separator: "\n")
    }
}

/// The view model: one unit's screens, as the store commits changes.
struct ChecklistModel: Sendable {
    let store: ReplicaStore
    let unit: String

    /// A screen for the current data, then one after every commit that changes this unit.
    func screens() -> AsyncThrowingStream<Screen, any Error> {
        let observed = store.observeUnit(unit)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var previous: Dataset?
                    var number = 0
                    for try await dataset in observed {
                        number += 1
                        continuation.yield(Screen(number: number, dataset: dataset, changes: previous.map { dataset.changes(since: $0) } ?? []))
                        previous = dataset
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

@main
struct ChecklistScreen {
    static func main() async throws {
        let folder = CommandLine.arguments.dropFirst().first.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("checklist-screen-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("dev-hoa.sqlite").path
        let store = try ReplicaStore.create(at: path, device: "dev-hoa", plan: BuiltInPlans.current())
        print("Replica of Quàng Thị Hoa's tablet: \(path)")

        let model = ChecklistModel(store: store, unit: "muong-lay")
        var screens = model.screens().makeAsyncIterator()
        guard let first = try await screens.next() else { return }
        print(first.text)

        // The inspector fills in the form. Each edit is committed; the screen follows by itself.
        let edits: [@Sendable (ReplicaStore) throws -> Op] = [
            { try $0.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress") },
            { try $0.set(unit: "muong-lay", item: "II.4", field: "rating", value: "kha") },
            { try $0.addFinding(unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "Chưa công khai danh sách đề nghị khen thưởng") },
            { try $0.set(unit: "muong-lay", item: "II.4", field: "status", value: "done") },
            { try $0.retractFinding("dev-hoa/3", reason: "Đã niêm yết tại trụ sở, có biên bản") },
        ]
        for edit in edits {
            let op = try edit(store)
            // The next screens, until one shows this edit (a fast UI may skip none, a slow one may coalesce).
            while let screen = try await screens.next() {
                print(screen.text)
                if screen.shows(op) { break }
            }
        }
        print("Every edit reached the screen through the observation; nothing polled.")
    }
}

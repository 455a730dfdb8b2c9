import ArgumentParser
import Foundation
import InspectorCore
import InspectorStore

extension InspectorCommand {
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each change to the replica's data as it is committed, until interrupted.",
            discussion: """
                One line per change: a field's new value, a finding, a retraction, a new unit. Local \
                edits and what a sync or a bundle import brings in show up alike, whichever process made \
                them, within a second of their commit.
                """)
        @OptionGroup var database: DatabaseOption
        @Option(help: "Only this unit.") var unit: String?

        /// How often the file is checked for commits by other processes.
        static let interval: Duration = .milliseconds(200)

        func run() async throws {
            let store = try database.open()
            if let unit { try store.checkKnownUnit(unit) }
            var previous: Dataset?
            for try await dataset in store.observeDataset(unitIDs: unit.map { [$0] }, otherProcessesPolledEvery: Self.interval) {
                if let previous {
                    for change in dataset.changes(since: previous) { Self.emit(change.description) }
                } else {
                    Self.emit("watching \(database.db) (\(unit.map { "unit \($0)" } ?? "all units")): \(dataset.values.count) values, \(dataset.findings.count) findings; Ctrl-C to stop")
                }
                previous = dataset
            }
        }

        /// Writes a line straight to standard output: through a pipe, `print` would hold it back.
        static func emit(_ line: String) {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}

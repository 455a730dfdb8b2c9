import InspectorCore
import InspectorHub
import InspectorReports
import InspectorStore

/// What the pages show, read from the hub in one go and indexed by unit: kept until the hub's
/// ``InspectorHub/HubStore/changeMark()`` moves or the day changes, so that a page costs a
/// lookup, not a pass over the log.
///
/// The findings and the conflict ledger are held as entries, not whole: a finding's entry says
/// where it is, what kind, by whom, and whether it was retracted (24 bytes); a conflicted field's
/// entry, its value in use and how many other values it has. A page reads the few findings and
/// conflicts it shows (``ShownFindings``, ``HubStore/conflicts(of:)``). Whole, they were 180 MB
/// and about 20 MB of a snapshot of a hub of 10⁶ ops, and a rebuild holds two snapshots
/// (docs/performance.md); the export files, which need everything, read the hub when one is
/// downloaded.
struct DashboardSnapshot: Sendable {
    typealias FindingEntry = ReplicaStore.FindingEntry
    typealias ConflictEntry = ReplicaStore.ConflictEntry

    var mark: String
    /// The hub's export input without the findings and the conflicts (`dataset.findings` and
    /// `dataset.conflicts` are empty, `heldFiles` nil).
    var input: ExportInput
    var devices: [HubStore.Device]
    var heldBack: [String: HubStore.HeldBackSummary]
    /// The hub's clock when it was read, ms.
    var readAt: Int64
    var valuesByUnit: [String: [Dataset.Value]]
    /// Every finding's entry, in the dataset's order.
    var findings: ReplicaStore.FindingEntries
    /// Positions in `findings`, by unit and by author, in order.
    var findingsByUnit: [String: [Int32]]
    var findingsByDevice: [String: [Int32]]
    /// Every conflicted field's entry, in the dataset's order, and by unit.
    var conflicts: [ConflictEntry]
    var conflictsByUnit: [String: [ConflictEntry]]
    var progress: [String: (done: Int, total: Int)]
    /// Findings not retracted, by unit and kind.
    var findingCounts: [String: [FindingKind: Int]]

    init(mark: String, input: ExportInput, findings: ReplicaStore.FindingEntries, conflicts: [ConflictEntry], devices: [HubStore.Device], heldBack: [String: HubStore.HeldBackSummary],
         readAt: Int64) {
        self.mark = mark
        self.input = input
        self.devices = devices
        self.heldBack = heldBack
        self.readAt = readAt
        let dataset = input.dataset
        valuesByUnit = Dictionary(grouping: dataset.values, by: \.unit)
        self.findings = findings
        var byUnit: [String: [Int32]] = [:], byDevice: [String: [Int32]] = [:]
        for (position, finding) in findings.enumerated() {
            byUnit[finding.unit, default: []].append(Int32(truncatingIfNeeded: position))
            byDevice[finding.device, default: []].append(Int32(truncatingIfNeeded: position))
        }
        findingsByUnit = byUnit
        findingsByDevice = byDevice
        self.conflicts = conflicts
        conflictsByUnit = Dictionary(grouping: conflicts, by: \.unit)
        var progress: [String: (done: Int, total: Int)] = [:]
        for unit in dataset.units {
            let done = valuesByUnit[unit.id, default: []].filter { $0.field == "status" && ($0.current.value == "done" || $0.current.value == "not_applicable") }.count
            progress[unit.id] = (done, dataset.plan.items.count)
        }
        self.progress = progress
        var counts: [String: [FindingKind: Int]] = [:]
        for finding in findings where !finding.isRetracted { counts[finding.unit, default: [:]][finding.kind, default: 0] += 1 }
        findingCounts = counts
    }

    var dataset: Dataset { input.dataset }

    /// The entries of a unit's findings, in the dataset's order.
    func findings(of unit: String) -> [FindingEntry] { findingsByUnit[unit, default: []].map { findings[Int($0)] } }

    /// The entries of a device's findings, in the dataset's order.
    func findings(by device: String) -> [FindingEntry] { findingsByDevice[device, default: []].map { findings[Int($0)] } }
    var plan: Plan { input.dataset.plan }
}

/// The findings a page shows, read whole from the hub by id, and the snapshot's input with the
/// files the hub holds of theirs (`heldFiles`: the links to them).
struct ShownFindings: Sendable {
    var byID: [String: Dataset.Finding]
    var input: ExportInput

    static func read(_ ids: [String], from store: HubStore, snapshot: DashboardSnapshot) async throws -> ShownFindings {
        let findings = try await store.findings(ids: ids)
        var input = snapshot.input
        input.heldFiles = store.heldFiles(of: findings)
        return ShownFindings(byID: Dictionary(findings.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }), input: input)
    }

    /// The rows of these entries' findings, in their order (one the hub no longer holds is left out).
    func rows(_ entries: some Sequence<DashboardSnapshot.FindingEntry>) -> [UnitPage.FindingRow] {
        entries.compactMap { byID[$0.id] }.map { UnitPage.finding($0, input: input) }
    }
}

/// Builds snapshots and keeps the latest, and the export files (made on first download).
///
/// A snapshot is rebuilt when the hub's change mark moves or the day changes. On a hub of fewer
/// than ``staleFromOperations`` ops a rebuild takes milliseconds, and every page waits for it: a page
/// always shows what the hub holds. On a larger hub (a rebuild at 10⁶ ops takes ~0.5 s), pages are
/// served from the previous snapshot while the next one is built (stale while revalidating); the
/// event stream announces the new snapshot's mark once it is ready, and open pages reload. The rule
/// is the hub's size, not a measured time, so that what a page shows never depends on the load.
actor SnapshotCache {
    let store: HubStore
    let today: @Sendable () -> CalendarDate
    /// Hubs holding at least this many ops serve the previous snapshot while rebuilding.
    let staleFromOperations: Int64
    private var current: DashboardSnapshot?
    private var building: (mark: String, day: CalendarDate, task: Task<DashboardSnapshot, any Error>)?
    private var files: (mark: String, day: CalendarDate, files: [(name: String, bytes: [UInt8])])?

    init(store: HubStore, today: @escaping @Sendable () -> CalendarDate, staleFromOperations: Int64) {
        self.store = store
        self.today = today
        self.staleFromOperations = staleFromOperations
    }

    /// The snapshot of the hub as it is now, or, while a slow rebuild runs, the previous one.
    func snapshot() async throws -> DashboardSnapshot {
        let mark = try await store.changeMark()
        let day = today()
        if let current, current.mark == mark, current.input.asOf == day { return current }
        let task: Task<DashboardSnapshot, any Error>
        if let building, building.mark == mark, building.day == day {
            task = building.task
        } else {
            let store = self.store
            task = Task.detached { try await Self.build(store: store, mark: mark, day: day) }
            building = (mark, day, task)
            Task { _ = try? await self.install(task) }
        }
        let operations = Int64(mark.prefix { $0 != "." }) ?? 0
        if let current, current.input.asOf == day, operations >= staleFromOperations { return current }
        return try await install(task)
    }

    /// Waits for a build and keeps its snapshot if it is newer than the one kept.
    private func install(_ task: Task<DashboardSnapshot, any Error>) async throws -> DashboardSnapshot {
        let snapshot = try await task.value
        if current.map({ $0.readAt <= snapshot.readAt }) ?? true {
            // Installed twice (by the build's own task and by a request waiting for it), a snapshot
            // replaces itself the second time: only another one frees memory.
            let replaced = current.map { $0.mark != snapshot.mark || $0.input.asOf != snapshot.input.asOf } ?? false
            current = snapshot
            // The previous snapshot and the rows the build read are free now (but for pages still
            // rendering from the old one): give their pages back, off the actor.
            if replaced { Task.detached(priority: .background) { FreedMemory.giveBack() } }
        }
        if building?.mark == snapshot.mark { building = nil }
        return snapshot
    }

    private static func build(store: HubStore, mark: String, day: CalendarDate) async throws -> DashboardSnapshot {
        // The mark is read before the data: a change committed in between makes the next request build again.
        async let input = store.exportInput(asOf: day, includingFindings: false, includingConflicts: false)
        async let findings = store.findingEntries()
        async let conflicts = store.conflictEntries()
        async let devices = store.devices()
        async let heldBack = store.heldBackReports()
        return DashboardSnapshot(mark: mark, input: try await input, findings: try await findings, conflicts: try await conflicts, devices: try await devices,
                                 heldBack: try await heldBack, readAt: store.now())
    }

    /// The export files of the hub as it is now, for today: the same bytes `hub export --out` writes.
    /// They need every finding, which a snapshot does not hold: the hub is read whole, and the files
    /// are kept until its change mark moves or the day changes.
    func exportFiles() async throws -> [(name: String, bytes: [UInt8])] {
        // The mark is read before the data, as for a snapshot: a change in between makes the next download read again.
        let mark = try await store.changeMark()
        let day = today()
        if let files, files.mark == mark, files.day == day { return files.files }
        let made = ExportFiles.make(try await store.exportInput(asOf: day))
        files = (mark, day, made)
        return made
    }
}

import InspectorCore
import InspectorHub
import InspectorReports

/// What the pages show, read from the hub in one go and indexed by unit: kept until the hub's
/// ``InspectorHub/HubStore/changeMark()`` moves or the day changes, so that a page costs a
/// lookup, not a pass over the log.
struct DashboardSnapshot: Sendable {
    var mark: String
    var input: ExportInput
    var devices: [HubStore.Device]
    var heldBack: [String: HubStore.HeldBackSummary]
    /// The hub's clock when it was read, ms.
    var readAt: Int64
    var valuesByUnit: [String: [Dataset.Value]]
    /// Indexes into `dataset.findings`, by unit, in time order.
    var findingIndexesByUnit: [String: [Int]]
    var conflictsByUnit: [String: [Dataset.Conflict]]
    var progress: [String: (done: Int, total: Int)]
    /// Findings not retracted, by unit and kind.
    var findingCounts: [String: [FindingKind: Int]]

    init(mark: String, input: ExportInput, devices: [HubStore.Device], heldBack: [String: HubStore.HeldBackSummary], readAt: Int64) {
        self.mark = mark
        self.input = input
        self.devices = devices
        self.heldBack = heldBack
        self.readAt = readAt
        let dataset = input.dataset
        valuesByUnit = Dictionary(grouping: dataset.values, by: \.unit)
        var byUnit: [String: [Int]] = [:]
        for (index, finding) in dataset.findings.enumerated() { byUnit[finding.unit, default: []].append(index) }
        findingIndexesByUnit = byUnit
        conflictsByUnit = Dictionary(grouping: dataset.conflicts, by: \.unit)
        var progress: [String: (done: Int, total: Int)] = [:]
        for unit in dataset.units {
            let done = valuesByUnit[unit.id, default: []].filter { $0.field == "status" && ($0.current.value == "done" || $0.current.value == "not_applicable") }.count
            progress[unit.id] = (done, dataset.plan.items.count)
        }
        self.progress = progress
        var counts: [String: [FindingKind: Int]] = [:]
        for finding in dataset.findings where finding.retraction == nil { counts[finding.unit, default: [:]][finding.kind, default: 0] += 1 }
        findingCounts = counts
    }

    var dataset: Dataset { input.dataset }

    /// The findings of a unit, in time order.
    func findings(of unit: String) -> [Dataset.Finding] {
        let all = input.dataset.findings
        return findingIndexesByUnit[unit, default: []].map { all[$0] }
    }
    var plan: Plan { input.dataset.plan }
}

/// Builds snapshots and keeps the latest, with the export files made from it (on first download).
///
/// A snapshot is rebuilt when the hub's change mark moves or the day changes. On a hub of fewer
/// than ``staleFromOperations`` ops a rebuild takes milliseconds, and every page waits for it: a page
/// always shows what the hub holds. On a larger hub (a rebuild at 10⁶ ops takes ~1.6 s), pages are
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
        if current.map({ $0.readAt <= snapshot.readAt }) ?? true { current = snapshot }
        if building?.mark == snapshot.mark { building = nil }
        return snapshot
    }

    private static func build(store: HubStore, mark: String, day: CalendarDate) async throws -> DashboardSnapshot {
        // The mark is read before the data: a change committed in between makes the next request build again.
        async let input = store.exportInput(asOf: day)
        async let devices = store.devices()
        async let heldBack = store.heldBackReports()
        return DashboardSnapshot(mark: mark, input: try await input, devices: try await devices, heldBack: try await heldBack, readAt: store.now())
    }

    /// The export files of a snapshot: the same bytes `hub export --out` writes for that day.
    func exportFiles(of snapshot: DashboardSnapshot) -> [(name: String, bytes: [UInt8])] {
        if let files, files.mark == snapshot.mark, files.day == snapshot.input.asOf { return files.files }
        let made = ExportFiles.make(snapshot.input)
        files = (snapshot.mark, snapshot.input.asOf, made)
        return made
    }
}

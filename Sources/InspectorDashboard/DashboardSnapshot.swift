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
    var findingsByUnit: [String: [Dataset.Finding]]
    var conflictsByUnit: [String: [Dataset.Conflict]]
    var progress: [String: (done: Int, total: Int)]

    init(mark: String, input: ExportInput, devices: [HubStore.Device], heldBack: [String: HubStore.HeldBackSummary], readAt: Int64) {
        self.mark = mark
        self.input = input
        self.devices = devices
        self.heldBack = heldBack
        self.readAt = readAt
        let dataset = input.dataset
        valuesByUnit = Dictionary(grouping: dataset.values, by: \.unit)
        findingsByUnit = Dictionary(grouping: dataset.findings, by: \.unit)
        conflictsByUnit = Dictionary(grouping: dataset.conflicts, by: \.unit)
        var progress: [String: (done: Int, total: Int)] = [:]
        for unit in dataset.units {
            let done = valuesByUnit[unit.id, default: []].filter { $0.field == "status" && ($0.current.value == "done" || $0.current.value == "not_applicable") }.count
            progress[unit.id] = (done, dataset.plan.items.count)
        }
        self.progress = progress
    }

    var dataset: Dataset { input.dataset }
    var plan: Plan { input.dataset.plan }
}

/// Builds snapshots and keeps the latest, with the export files made from it (built on first use).
actor SnapshotCache {
    let store: HubStore
    let today: @Sendable () -> CalendarDate
    private var current: DashboardSnapshot?
    private var files: (mark: String, day: CalendarDate, files: [(name: String, bytes: [UInt8])])?

    init(store: HubStore, today: @escaping @Sendable () -> CalendarDate) {
        self.store = store
        self.today = today
    }

    /// The snapshot of the hub as it is now.
    func snapshot() async throws -> DashboardSnapshot {
        let mark = try await store.changeMark()
        let day = today()
        if let current, current.mark == mark, current.input.asOf == day { return current }
        // Read the mark before the data: a change committed in between makes the next request read again.
        async let input = store.exportInput(asOf: day)
        async let devices = store.devices()
        let snapshot = DashboardSnapshot(mark: mark, input: try await input, devices: try await devices,
                                         heldBack: try store.heldBackReports(), readAt: store.now())
        if current.map({ $0.readAt <= snapshot.readAt }) ?? true { current = snapshot }
        return snapshot
    }

    /// The export files of a snapshot: the same bytes `hub export --out` writes for that day.
    func exportFiles(of snapshot: DashboardSnapshot) -> [(name: String, bytes: [UInt8])] {
        if let files, files.mark == snapshot.mark, files.day == snapshot.input.asOf { return files.files }
        let made = ExportFiles.make(snapshot.input)
        files = (snapshot.mark, snapshot.input.asOf, made)
        return made
    }
}

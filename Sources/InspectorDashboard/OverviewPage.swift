import InspectorCore
import InspectorHub
import InspectorReports

/// `/`: every unit with its progress, findings by kind, schedule and deadlines; every device with
/// its last sync and clock offset.
struct OverviewPage: Sendable {
    struct KindCount: Sendable {
        var kind: String
        var title: String
        var count: Int
    }

    struct UnitRow: Sendable {
        var id: String
        var name: String
        var kindTitle: String
        var indent: Bool
        var done: Int
        var total: Int
        var percent: Int
        var findings: [KindCount]
        var arrival: String?
        var notice: DeadlineCell?
        var report: DeadlineCell?
        var openConflicts: Int
        var hasOpenConflicts: Bool
        var hasAlert: Bool
    }

    struct DeviceRow: Sendable {
        var id: String
        var name: String
        var units: String
        var lastSync: String
        var offset: String
        var isSkewed: Bool
        var isRevoked: Bool
        var isEnrolled: Bool
    }

    var layout: PageLayout
    var kinds: [String]
    var units: [UnitRow]
    var unitCount: Int
    var devices: [DeviceRow]
    var skewedDevices: [DeviceRow]
    var hasSkewed: Bool
    var hasDevices: Bool
    var operationTotal: String
    var findingTotals: [KindCount]
    var openConflicts: Int
    var hasOpenConflicts: Bool
    var passedCount: Int
    var hasPassed: Bool
    var soonCount: Int
    var hasSoon: Bool

    init(snapshot: DashboardSnapshot, session: OfficeSession) {
        layout = PageLayout(title: "Tổng quan kiểm tra", session: session, snapshot: snapshot)
        layout.isOverview = true
        let input = snapshot.input
        let dataset = snapshot.dataset
        kinds = FindingKind.allCases.map(\.vietnameseTitle)
        let open = snapshot.conflicts.filter { input.resolution(unit: $0.unit, item: $0.item, field: $0.field, winner: $0.winner) == nil }
        let openByUnit = Dictionary(grouping: open, by: \.unit).mapValues(\.count)
        units = dataset.units.map { unit in
            let deadlines = input.deadlines(for: unit)
            let progress = snapshot.progress[unit.id] ?? (0, dataset.plan.items.count)
            let findings = snapshot.findingCounts[unit.id] ?? [:]
            let notice = DeadlineCell(deadlines.noticeBy, arrival: deadlines.arrival, asOf: input.asOf)
            let report = DeadlineCell(deadlines.reportDue, arrival: deadlines.arrival, asOf: input.asOf)
            return UnitRow(
                id: unit.id, name: unit.name, kindTitle: unit.kind == .direct ? "Kiểm tra trực tiếp" : "Tự kiểm tra",
                indent: unit.parent != nil, done: progress.done, total: progress.total,
                percent: progress.total == 0 ? 0 : progress.done * 100 / progress.total,
                findings: FindingKind.allCases.map { kind in KindCount(kind: kind.rawValue, title: kind.vietnameseTitle, count: findings[kind] ?? 0) },
                arrival: deadlines.arrival?.vietnameseString, notice: notice, report: report,
                openConflicts: openByUnit[unit.id] ?? 0, hasOpenConflicts: (openByUnit[unit.id] ?? 0) > 0,
                hasAlert: [notice, report].contains { $0?.isPassed == true || $0?.isSoon == true })
        }
        passedCount = units.reduce(0) { $0 + [$1.notice, $1.report].filter { $0?.isPassed == true }.count }
        soonCount = units.reduce(0) { $0 + [$1.notice, $1.report].filter { $0?.isSoon == true }.count }
        devices = snapshot.devices.map { Self.row($0, input: input) }
        skewedDevices = devices.filter(\.isSkewed)
        hasSkewed = !skewedDevices.isEmpty
        hasDevices = !devices.isEmpty
        unitCount = units.count
        hasPassed = passedCount > 0
        hasSoon = soonCount > 0
        findingTotals = FindingKind.allCases.map { kind in
            KindCount(kind: kind.rawValue, title: kind.vietnameseTitle, count: snapshot.findingCounts.values.reduce(0) { $0 + ($1[kind] ?? 0) })
        }
        openConflicts = open.count
        hasOpenConflicts = !open.isEmpty
        let held = snapshot.input.logs?.reduce(Int64(0)) { $0 + $1.confirmed } ?? 0
        operationTotal = String(held)
    }

    static func row(_ device: HubStore.Device, input: ExportInput) -> DeviceRow {
        DeviceRow(id: device.id, name: device.name ?? "—", units: device.units.joined(separator: ", "),
                  lastSync: device.lastSync.map { VietnamTime.format(HLCTimestamp(millis: $0, counter: 0, device: device.id)) } ?? "chưa đồng bộ",
                  offset: device.clockOffset.map(HubStatus.describe) ?? "chưa đo",
                  isSkewed: device.clockOffset.map { abs($0) > HubStore.skewThreshold } ?? false,
                  isRevoked: device.isRevoked, isEnrolled: device.key != nil)
    }
}

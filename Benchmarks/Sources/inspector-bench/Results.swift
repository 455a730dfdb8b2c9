import Foundation
import InspectorCore

/// What one run measured, with each figure's ratio to its in-run ceiling and the goals of issue #11.
///
/// A figure the run did not measure (`--only`, `--bootstrap-ops 0`) is nil and left out of the table
/// and the JSON; a full run has every key.
struct Results {
    var devices = 0
    var operations = 0
    var deviceOpsPerSecond: Double?
    var deviceOpsPerSecondFull: Double?
    /// The hub merge with every push's signed chain head verified (PROTOCOL.md 19.3).
    var hubMergeOpsPerSecond: Double?
    /// The same pushes unsigned (devices without keys): what verification costs.
    var hubMergeUnsignedOpsPerSecond: Double?
    /// The ceiling of the hub merge: ``RawSQLite`` merging the same batches, durably (FULL).
    var rawSQLiteOpsPerSecond: Double?
    /// ``RawSQLite`` committing after every op, WAL and synchronous=NORMAL: the device's mode.
    var rawSQLitePerTransactionOpsPerSecond: Double?
    /// The same with synchronous=FULL, the ceiling of `device_ops_per_s_full`.
    var rawSQLitePerTransactionFullOpsPerSecond: Double?
    var e2eSeconds: Double?
    /// The same end to end over a lab hub's plain TCP: what TLS costs.
    var e2ePlaintextSeconds: Double?
    var e2eOpsPerSecond: Double?
    var wireBytesPerOp: Double?
    var pullBytesPerOp: Double?
    var incrementalSyncMs: [(Int, Double)] = []
    var hubPeakRSSMegabytes: Double?
    var bootstrapOps = 0
    var bootstrapSeconds: Double?
    var bootstrapHubPeakRSSMegabytes: Double?
    /// File bytes (10⁶) per second, one device uploading alone, and 20 at once (issue #13).
    var attachmentSingleMegabytesPerSecond: Double?
    var attachmentMegabytesPerSecond: Double?
    /// The hub's peak resident set while 20 devices upload 20 MiB each.
    var attachmentHubPeakRSSMegabytes: Double?
    /// The dashboard over a hub of `dashboardOps` ops (issue #14): the first page (the snapshot's
    /// first build), the pages' p50, p95 and maximum, their mean size, the delay until a page shows a
    /// newly committed op, and the hub's peak resident set.
    var dashboardOps = 0
    var dashboardFirstPageMs: Double?
    var dashboardPages = 0
    var dashboardP50Ms: Double?
    var dashboardP95Ms: Double?
    var dashboardMaxMs: Double?
    var dashboardBytes: Int?
    var dashboardRefreshSeconds: Double?
    var dashboardHubPeakRSSMegabytes: Double?

    // MARK: - Ratios

    static func ratio(_ value: Double?, _ ceiling: Double?) -> Double? {
        guard let value, let ceiling, ceiling > 0 else { return nil }
        return value / ceiling
    }
    var hubMergeVsCeiling: Double? { Self.ratio(hubMergeOpsPerSecond, rawSQLiteOpsPerSecond) }
    var deviceVsCeiling: Double? { Self.ratio(deviceOpsPerSecond, rawSQLitePerTransactionOpsPerSecond) }
    var deviceFullVsCeiling: Double? { Self.ratio(deviceOpsPerSecondFull, rawSQLitePerTransactionFullOpsPerSecond) }
    /// The end-to-end rate (ops of the workload per second) against the merge ceiling.
    var e2eVsCeiling: Double? { Self.ratio(e2eOpsPerSecond, rawSQLiteOpsPerSecond) }
    var bootstrapOpsPerSecond: Double? { bootstrapSeconds.map { Double(bootstrapOps) / $0 } }
    /// The bootstrap rate (ops the hub holds per second of sync) against the merge ceiling.
    var bootstrapVsCeiling: Double? { Self.ratio(bootstrapOpsPerSecond, rawSQLiteOpsPerSecond) }
    /// The incremental sync's time at the largest history over its time at the smallest.
    var incrementalSyncGrowth: Double? {
        guard incrementalSyncMs.count >= 2, let first = incrementalSyncMs.min(by: { $0.0 < $1.0 }),
              let last = incrementalSyncMs.max(by: { $0.0 < $1.0 }) else { return nil }
        return Self.ratio(last.1, first.1)
    }
    /// The greater of the hubs' peak resident sets.
    var hubPeakRSSAnyMegabytes: Double? {
        [hubPeakRSSMegabytes, bootstrapHubPeakRSSMegabytes, attachmentHubPeakRSSMegabytes, dashboardHubPeakRSSMegabytes].compactMap { $0 }.max()
    }

    // MARK: - Goals

    /// One goal of issue #11.
    struct Goal {
        /// The JSON key in `goals`.
        var key: String
        /// The condition, for the table.
        var condition: String
        /// The figure compared, for the table.
        var measured: String
        var met: Bool
    }

    /// The goals this run can judge. A goal set for a size this run did not measure (end to end for
    /// 20 × 5000, bootstrap for 10⁶ ops, a flat incremental sync up to 10⁶) is left out.
    var goals: [Goal] {
        var goals: [Goal] = []
        if let merge = hubMergeOpsPerSecond {
            goals.append(Goal(key: "hub_merge_ops_per_s", condition: "≥ 300000 ops/s", measured: String(format: "%.0f ops/s", merge), met: merge >= 300_000))
        }
        if let ratio = hubMergeVsCeiling {
            goals.append(Goal(key: "hub_merge_vs_ceiling", condition: "≥ 1.00× raw merge", measured: String(format: "%.3f×", ratio), met: ratio >= 1.0))
        }
        if let ratio = deviceVsCeiling {
            goals.append(Goal(key: "device_vs_ceiling", condition: "≥ 0.90× raw 1 txn/op", measured: String(format: "%.3f×", ratio), met: ratio >= 0.9))
        }
        if let e2e = e2eSeconds, devices * operations >= 100_000 {
            goals.append(Goal(key: "e2e_sync_s", condition: "≤ 10 s for 20 × 5000", measured: String(format: "%.2f s", e2e), met: e2e <= 10))
        }
        if let bootstrap = bootstrapSeconds, bootstrapOps >= 1_000_000 {
            goals.append(Goal(key: "bootstrap_s", condition: "≤ 10 s for 10⁶ ops", measured: String(format: "%.2f s", bootstrap), met: bootstrap <= 10))
        }
        if let wire = wireBytesPerOp {
            goals.append(Goal(key: "wire_bytes_per_op", condition: "≤ 30 bytes/op", measured: String(format: "%.1f bytes/op", wire), met: wire <= 30))
        }
        if let growth = incrementalSyncGrowth, let largest = incrementalSyncMs.map(\.0).max(), largest >= 1_000_000 {
            goals.append(Goal(key: "incremental_sync_ms", condition: "flat to 10⁶: ≤ 2.00× the smallest history's",
                              measured: String(format: "%.2f×", growth), met: growth <= 2.0))
        }
        if let p95 = dashboardP95Ms, dashboardOps >= 1_000_000 {
            goals.append(Goal(key: "dashboard_p95_ms", condition: "< 200 ms at 10⁶ ops (issue #14)", measured: String(format: "%.1f ms", p95), met: p95 < 200))
        }
        if let rss = hubPeakRSSAnyMegabytes {
            goals.append(Goal(key: "hub_peak_rss_mb", condition: "≤ 150 MB (every hub of the run)", measured: String(format: "%.1f MB", rss), met: rss <= 150))
        }
        return goals
    }

    /// Every goal key of issue #11, in the order the table lists them.
    static let goalKeys = ["hub_merge_ops_per_s", "hub_merge_vs_ceiling", "device_vs_ceiling", "e2e_sync_s", "bootstrap_s",
                           "wire_bytes_per_op", "incremental_sync_ms", "hub_peak_rss_mb", "dashboard_p95_ms"]

    /// Why a goal is not in ``goals``.
    func unjudged(_ key: String) -> String {
        switch key {
        case "e2e_sync_s" where e2eSeconds != nil: "set for 20 × 5000 ops; this run synced \(devices) × \(operations)"
        case "bootstrap_s" where bootstrapSeconds != nil: "set for 10⁶ ops; this run's hub held \(bootstrapOps)"
        case "incremental_sync_ms" where !incrementalSyncMs.isEmpty: "set for histories up to 10⁶ ops"
        case "dashboard_p95_ms" where dashboardP95Ms != nil: "set for 10⁶ ops; this run's hub held \(dashboardOps)"
        default: "not measured in this run"
        }
    }

    // MARK: - Output

    func table() -> String {
        let goals = Dictionary(uniqueKeysWithValues: self.goals.map { ($0.key, $0) })
        func verdict(_ keys: String...) -> String {
            let judged = keys.compactMap { goals[$0] }
            guard !judged.isEmpty else { return "" }
            return judged.map { "\($0.condition): \($0.met ? "met" : "NOT MET")" }.joined(separator: "; ")
        }
        /// One hub's peak against the goal, which the summary judges over every hub of the run.
        func rssVerdict(_ rss: Double) -> String {
            goals["hub_peak_rss_mb"] == nil ? "" : "≤ 150 MB: \(rss <= 150 ? "met" : "NOT MET") by this hub"
        }
        func row(_ label: String, _ value: String, _ ratio: String = "", _ goal: String = "") -> String {
            label.padding(toLength: 44, withPad: " ", startingAt: 0) + value.padding(toLength: 20, withPad: " ", startingAt: 0)
                + ratio.padding(toLength: 30, withPad: " ", startingAt: 0) + goal
        }
        func rate(_ value: Double) -> String { String(format: "%10.0f ops/s", value) }
        func times(_ ratio: Double?, _ ceiling: String) -> String { ratio.map { String(format: "%7.3f× ", $0) + ceiling } ?? "" }
        var lines = [
            "InspectorSync benchmark — \(devices) devices × \(operations) ops = \(devices * operations) ops (12 units × 40 items)",
            row("", "value", "vs in-run ceiling", "goal (issue #11)"),
        ]
        if let raw = rawSQLiteOpsPerSecond { lines.append(row("raw SQLite ceiling: merge, 2000/txn, FULL", rate(raw), "(ceiling: raw merge)")) }
        if let raw = rawSQLitePerTransactionOpsPerSecond { lines.append(row("raw SQLite ceiling: 1 txn/op, NORMAL", rate(raw), "(ceiling: raw 1 txn/op)")) }
        if let raw = rawSQLitePerTransactionFullOpsPerSecond { lines.append(row("raw SQLite ceiling: 1 txn/op, FULL", rate(raw), "(ceiling: raw 1 txn/op FULL)")) }
        if let device = deviceOpsPerSecond {
            lines.append(row("device record, 1 txn/op (NORMAL)", rate(device), times(deviceVsCeiling, "raw 1 txn/op"), verdict("device_vs_ceiling")))
        }
        if let device = deviceOpsPerSecondFull {
            lines.append(row("device record, 1 txn/op (FULL)", rate(device), times(deviceFullVsCeiling, "raw 1 txn/op FULL")))
        }
        if let merge = hubMergeOpsPerSecond {
            lines.append(row("hub merge, durable, signed heads verified (pushes of 2000)", rate(merge), times(hubMergeVsCeiling, "raw merge"),
                             verdict("hub_merge_ops_per_s", "hub_merge_vs_ceiling")))
        }
        if let unsigned = hubMergeUnsignedOpsPerSecond {
            lines.append(row("  the same unsigned (previous release)", rate(unsigned),
                             hubMergeOpsPerSecond.map { String(format: "verifying costs %.1f%% of it", (1 - $0 / unsigned) * 100) } ?? ""))
        }
        if let e2e = e2eSeconds { lines.append(row("end-to-end sync until converged (TLS 1.3)", String(format: "%10.2f s", e2e), "", verdict("e2e_sync_s"))) }
        if let plain = e2ePlaintextSeconds {
            lines.append(row("  the same over plain TCP, unsigned (a lab hub)", String(format: "%10.2f s", plain),
                             e2eSeconds.map { String(format: "TLS costs %+.0f%%", ($0 / plain - 1) * 100) } ?? ""))
        }
        if let rate = e2eOpsPerSecond { lines.append(row("end-to-end rate", String(format: "%10.0f ops/s", rate), times(e2eVsCeiling, "raw merge"))) }
        if let wire = wireBytesPerOp { lines.append(row("wire, devices → hub", String(format: "%10.1f bytes/op", wire), "", verdict("wire_bytes_per_op"))) }
        if let pull = pullBytesPerOp { lines.append(row("wire, hub → devices", String(format: "%10.1f bytes/op", pull))) }
        for (index, (size, ms)) in incrementalSyncMs.enumerated() {
            let last = index == incrementalSyncMs.count - 1
            lines.append(row("incremental sync, \(size) ops held", String(format: "%10.2f ms", ms),
                             last ? times(incrementalSyncGrowth, "the smallest history") : "", last ? verdict("incremental_sync_ms") : ""))
        }
        if let bootstrap = bootstrapSeconds {
            lines.append(row("bootstrap, fresh device, \(bootstrapOps) ops", String(format: "%10.2f s", bootstrap), "", verdict("bootstrap_s")))
            lines.append(row("bootstrap rate", rate(bootstrapOpsPerSecond ?? 0), times(bootstrapVsCeiling, "raw merge")))
        }
        if let rss = hubPeakRSSMegabytes { lines.append(row("hub peak RSS (end to end)", String(format: "%10.1f MB", rss), "", rssVerdict(rss))) }
        if let rss = bootstrapHubPeakRSSMegabytes { lines.append(row("hub peak RSS (bootstrap)", String(format: "%10.1f MB", rss), "", rssVerdict(rss))) }
        if let rate = attachmentSingleMegabytesPerSecond { lines.append(row("attachment upload, one device (20 MiB)", String(format: "%10.1f MB/s", rate))) }
        if let rate = attachmentMegabytesPerSecond { lines.append(row("attachment upload, 20 devices at once", String(format: "%10.1f MB/s", rate))) }
        if let rss = attachmentHubPeakRSSMegabytes { lines.append(row("hub peak RSS (20 uploads of 20 MiB)", String(format: "%10.1f MB", rss), "", rssVerdict(rss))) }
        if let first = dashboardFirstPageMs {
            lines.append(row("dashboard over \(dashboardOps) ops: first page", String(format: "%10.1f ms", first), "(builds the snapshot)"))
        }
        if let p50 = dashboardP50Ms, let p95 = dashboardP95Ms, let max = dashboardMaxMs {
            lines.append(row("dashboard pages (\(dashboardPages)), p50 / p95 / max", String(format: "%.1f / %.1f / %.1f ms", p50, p95, max),
                             dashboardBytes.map { "mean page \($0 / 1000) KB" } ?? "", verdict("dashboard_p95_ms")))
        }
        if let refresh = dashboardRefreshSeconds { lines.append(row("dashboard: a committed op shows after", String(format: "%10.2f s", refresh))) }
        if let rss = dashboardHubPeakRSSMegabytes { lines.append(row("hub peak RSS (dashboard)", String(format: "%10.1f MB", rss), "", rssVerdict(rss))) }
        let judged = self.goals
        lines.append("goals (issue #11): \(judged.filter(\.met).count) of the \(judged.count) judged in this run met")
        for goal in judged {
            lines.append("  " + goal.key.padding(toLength: 24, withPad: " ", startingAt: 0) + goal.measured.padding(toLength: 18, withPad: " ", startingAt: 0)
                         + goal.condition.padding(toLength: 46, withPad: " ", startingAt: 0) + (goal.met ? "met" : "NOT MET"))
        }
        for key in Self.goalKeys where goals[key] == nil {
            lines.append("  " + key.padding(toLength: 24, withPad: " ", startingAt: 0) + "not judged: " + unjudged(key))
        }
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var members: [(String, JSONValue)] = [("devices", .int(Int64(devices))), ("ops_per_device", .int(Int64(operations)))]
        func add(_ key: String, _ value: Double?, digits: Int = 0) {
            if let value { members.append((key, number(value, digits: digits))) }
        }
        add("device_ops_per_s", deviceOpsPerSecond)
        add("device_ops_per_s_full", deviceOpsPerSecondFull)
        add("hub_merge_ops_per_s", hubMergeOpsPerSecond)
        add("hub_merge_unsigned_ops_per_s", hubMergeUnsignedOpsPerSecond)
        if let signed = hubMergeOpsPerSecond, let unsigned = hubMergeUnsignedOpsPerSecond, unsigned > 0 {
            add("hub_merge_verification_cost", 1 - signed / unsigned, digits: 3)
        }
        add("e2e_sync_s", e2eSeconds, digits: 3)
        add("e2e_plaintext_sync_s", e2ePlaintextSeconds, digits: 3)
        add("e2e_ops_per_s", e2eOpsPerSecond)
        add("wire_bytes_per_op", wireBytesPerOp, digits: 1)
        add("pull_bytes_per_op", pullBytesPerOp, digits: 1)
        members.append(("incremental_sync_ms", .object(incrementalSyncMs.map { (String($0.0), number($0.1, digits: 3)) })))
        add("raw_sqlite_ops_per_s", rawSQLiteOpsPerSecond)
        add("raw_sqlite_txn_per_op_ops_per_s", rawSQLitePerTransactionOpsPerSecond)
        add("hub_peak_rss_mb", hubPeakRSSMegabytes, digits: 1)
        add("raw_sqlite_txn_per_op_full_ops_per_s", rawSQLitePerTransactionFullOpsPerSecond)
        if bootstrapSeconds != nil { members.append(("bootstrap_ops", .int(Int64(bootstrapOps)))) }
        add("bootstrap_s", bootstrapSeconds, digits: 3)
        add("bootstrap_ops_per_s", bootstrapOpsPerSecond)
        add("bootstrap_hub_peak_rss_mb", bootstrapHubPeakRSSMegabytes, digits: 1)
        add("attachment_single_mb_per_s", attachmentSingleMegabytesPerSecond, digits: 1)
        add("attachment_mb_per_s", attachmentMegabytesPerSecond, digits: 1)
        add("attachment_hub_peak_rss_mb", attachmentHubPeakRSSMegabytes, digits: 1)
        if dashboardP95Ms != nil { members.append(("dashboard_ops", .int(Int64(dashboardOps)))) }
        add("dashboard_first_page_ms", dashboardFirstPageMs, digits: 1)
        add("dashboard_p50_ms", dashboardP50Ms, digits: 2)
        add("dashboard_p95_ms", dashboardP95Ms, digits: 2)
        add("dashboard_max_ms", dashboardMaxMs, digits: 2)
        add("dashboard_refresh_s", dashboardRefreshSeconds, digits: 3)
        add("dashboard_hub_peak_rss_mb", dashboardHubPeakRSSMegabytes, digits: 1)
        add("hub_merge_vs_ceiling", hubMergeVsCeiling, digits: 3)
        add("device_vs_ceiling", deviceVsCeiling, digits: 3)
        add("device_full_vs_ceiling", deviceFullVsCeiling, digits: 3)
        add("e2e_vs_ceiling", e2eVsCeiling, digits: 4)
        add("bootstrap_vs_ceiling", bootstrapVsCeiling, digits: 4)
        add("incremental_sync_growth", incrementalSyncGrowth, digits: 3)
        members.append(("goals", .object(goals.map { ($0.key, .bool($0.met)) })))
        return JSONValue.object(members).serialized()
    }

    func number(_ value: Double, digits: Int = 0) -> JSONValue { .number(String(format: "%.\(digits)f", value)) }
}

import ArgumentParser
import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Logging

@main
struct InspectorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspector-bench",
        abstract: "Measures InspectorSync on the inspection workload and prints a table (and JSON with --json).",
        subcommands: [Run.self, ServeHub.self],
        defaultSubcommand: Run.self
    )
}

/// Runs a hub in this process, for the benchmark's child process (so its memory can be measured alone).
struct ServeHub: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve-hub", shouldDisplay: false)
    @Option var db: String

    func run() async throws {
        var logger = Logger(label: "bench.hub")
        logger.logLevel = .error
        let server = HubServer(store: try HubStore.open(at: db), configuration: .init(host: "127.0.0.1", port: 0, logger: logger))
        let running = try await server.start()
        let trap = SignalTrap(signals: [SIGTERM]) { running.stop() }
        FileHandle.standardOutput.write(Data("listening on \(running.address)\n".utf8))
        try await running.run()
        trap.cancel()
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the benchmark (the default).")
    @Option(name: .customShort("D"), help: "Devices.") var devices = 20
    @Option(name: .customShort("M"), help: "Operations per device.") var operations = 5000
    @Option(help: "History sizes for the incremental sync, comma-separated.") var history = "1000,100000,1000000"
    @Option(help: "Operations the hub holds when a fresh device bootstraps (0 skips it).") var bootstrapOps = 1_000_000
    @Flag(help: "Print one JSON object on the last line.") var json = false

    func run() async throws {
        let bench = try Benchmark(devices: devices, operations: operations, historySizes: history.split(separator: ",").compactMap { Int($0) },
                                  bootstrapOps: max(bootstrapOps, 0))
        let results = try await bench.run()
        print(results.table())
        if json { print(results.json()) }
    }
}

struct Results {
    var deviceOpsPerSecond = 0.0
    var deviceOpsPerSecondFull = 0.0
    var hubMergeOpsPerSecond = 0.0
    var rawSQLiteOpsPerSecond = 0.0
    /// The same C API loop committing after every op, WAL and synchronous=NORMAL: the device's mode.
    var rawSQLitePerTransactionOpsPerSecond = 0.0
    /// The same with synchronous=FULL: the ceiling of `device_ops_per_s_full`.
    var rawSQLitePerTransactionFullOpsPerSecond = 0.0
    var e2eSeconds = 0.0
    var e2eOpsPerSecond = 0.0
    var wireBytesPerOp = 0.0
    var pullBytesPerOp = 0.0
    var incrementalSyncMs: [(Int, Double)] = []
    var hubPeakRSSMegabytes = 0.0
    var bootstrapOps = 0
    var bootstrapSeconds: Double?
    var bootstrapHubPeakRSSMegabytes: Double?
    var devices = 0
    var operations = 0

    func table() -> String {
        func row(_ label: String, _ value: String) -> String {
            label.padding(toLength: 40, withPad: " ", startingAt: 0) + value
        }
        func rate(_ value: Double) -> String {
            String(format: "%10.0f ops/s   %5.2f× raw", value, value / rawSQLiteOpsPerSecond)
        }
        var lines = [
            "InspectorSync benchmark — \(devices) devices × \(operations) ops = \(devices * operations) ops (12 units × 40 items)",
            row("raw SQLite ceiling (2000/txn, FULL)", String(format: "%10.0f ops/s", rawSQLiteOpsPerSecond)),
            row("raw SQLite, 1 txn/op (NORMAL)", String(format: "%10.0f ops/s", rawSQLitePerTransactionOpsPerSecond)),
            row("raw SQLite, 1 txn/op (FULL)", String(format: "%10.0f ops/s", rawSQLitePerTransactionFullOpsPerSecond)),
            row("device record, 1 txn/op (NORMAL)", rate(deviceOpsPerSecond)
                + String(format: "   %5.2f× raw 1 txn/op", deviceOpsPerSecond / rawSQLitePerTransactionOpsPerSecond)),
            row("device record, 1 txn/op (FULL)", rate(deviceOpsPerSecondFull)
                + String(format: "   %5.2f× raw 1 txn/op", deviceOpsPerSecondFull / rawSQLitePerTransactionFullOpsPerSecond)),
            row("hub merge, durable", rate(hubMergeOpsPerSecond)),
            row("end-to-end sync until converged", String(format: "%10.2f s", e2eSeconds)),
            row("end-to-end rate", rate(e2eOpsPerSecond)),
            row("wire, devices → hub", String(format: "%10.1f bytes/op", wireBytesPerOp)),
            row("wire, hub → devices", String(format: "%10.1f bytes/op", pullBytesPerOp)),
        ]
        for (size, ms) in incrementalSyncMs {
            lines.append(row("incremental sync, \(size) ops held", String(format: "%10.2f ms", ms)))
        }
        if let bootstrap = bootstrapSeconds {
            lines.append(row("bootstrap, fresh device, \(bootstrapOps) ops", String(format: "%10.2f s", bootstrap)))
        }
        lines.append(row("hub peak RSS", String(format: "%10.1f MB", hubPeakRSSMegabytes)))
        if let rss = bootstrapHubPeakRSSMegabytes { lines.append(row("hub peak RSS (bootstrap)", String(format: "%10.1f MB", rss))) }
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var members: [(String, JSONValue)] = [
            ("devices", .int(Int64(devices))), ("ops_per_device", .int(Int64(operations))),
            ("device_ops_per_s", number(deviceOpsPerSecond)), ("device_ops_per_s_full", number(deviceOpsPerSecondFull)),
            ("hub_merge_ops_per_s", number(hubMergeOpsPerSecond)), ("e2e_sync_s", number(e2eSeconds, digits: 3)),
            ("e2e_ops_per_s", number(e2eOpsPerSecond)), ("wire_bytes_per_op", number(wireBytesPerOp, digits: 1)),
            ("pull_bytes_per_op", number(pullBytesPerOp, digits: 1)),
        ]
        members.append(("incremental_sync_ms", .object(incrementalSyncMs.map { (String($0.0), number($0.1, digits: 3)) })))
        members.append(("raw_sqlite_ops_per_s", number(rawSQLiteOpsPerSecond)))
        members.append(("raw_sqlite_txn_per_op_ops_per_s", number(rawSQLitePerTransactionOpsPerSecond)))
        members.append(("hub_peak_rss_mb", number(hubPeakRSSMegabytes, digits: 1)))
        members.append(("raw_sqlite_txn_per_op_full_ops_per_s", number(rawSQLitePerTransactionFullOpsPerSecond)))
        if let bootstrap = bootstrapSeconds, let rss = bootstrapHubPeakRSSMegabytes {
            members.append(("bootstrap_ops", .int(Int64(bootstrapOps))))
            members.append(("bootstrap_s", number(bootstrap, digits: 3)))
            members.append(("bootstrap_hub_peak_rss_mb", number(rss, digits: 1)))
        }
        return JSONValue.object(members).serialized()
    }

    func number(_ value: Double, digits: Int = 0) -> JSONValue { .number(String(format: "%.\(digits)f", value)) }
}

import ArgumentParser
import Foundation
import InspectorCore
import InspectorDashboard
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS
import Logging
import ServiceLifecycle

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
    @Flag var insecurePlaintext = false
    /// Also serve the dashboard on this address; prints `dashboard on http://HOST:PORT`.
    @Option var http: String?

    func run() async throws {
        var logger = Logger(label: "bench.hub")
        logger.logLevel = .error
        let store = try HubStore.open(at: db)
        let tls = try HubTLS(identity: store.identity)
        let server = HubServer(store: store, configuration: .init(host: "127.0.0.1", port: 0,
                                                                  security: insecurePlaintext ? .tlsAndPlaintext(tls) : .tls(tls), logger: logger))
        let running = try await server.start()
        var services: [any Service] = [HubServer.Service(running: running)]
        if let http {
            let address = try HubAddress(parsing: http)
            let dashboard = try await Dashboard.make(store: store, configuration: .init(logger: logger))
            let application = dashboard.makeApplication(host: address.host, port: address.port) { bound in
                FileHandle.standardOutput.write(Data("dashboard on http://\(bound)\n".utf8))
            }
            services.append(DashboardService(dashboard: dashboard, application: application))
        }
        FileHandle.standardOutput.write(Data("listening on \(running.address)\n".utf8))
        try await ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm], logger: logger)).run()
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the benchmark (the default).")
    @Option(name: .customShort("D"), help: "Devices.") var devices = 20
    @Option(name: .customShort("M"), help: "Operations per device.") var operations = 5000
    @Option(help: "History sizes for the incremental sync, comma-separated.") var history = "1000,100000,1000000"
    @Option(help: "Operations the hub holds when a fresh device bootstraps (0 skips it).") var bootstrapOps = 1_000_000
    @Option(help: "Measure only one part: all, ceiling (the raw SQLite ceilings), merge (the hub merge alone, for profiling), bootstrap, device, attachments, dashboard (pages over a hub of --bootstrap-ops ops), e2e (the end-to-end sync over TLS).")
    var only: Benchmark.Part = .all
    @Flag(help: "Print one JSON object on the last line.") var json = false

    func run() async throws {
        let bench = try Benchmark(devices: devices, operations: operations, historySizes: history.split(separator: ",").compactMap { Int($0) },
                                  bootstrapOps: max(bootstrapOps, 0))
        let results = try await bench.run(only)
        print(results.table())
        if json { print(results.json()) }
    }
}

extension Benchmark.Part: ExpressibleByArgument {}

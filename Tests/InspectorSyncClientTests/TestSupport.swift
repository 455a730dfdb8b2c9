import Foundation
import InspectorCore
import InspectorHub
import InspectorPlans
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import InspectorTestSupport

/// The built-in plan, read once for the whole test target.
let builtInPlan: Plan = {
    do { return try BuiltInPlans.current() } catch { fatalError("the built-in plan does not load: \(error)") }
}()

/// The fixed hub clock of the vectors: 2024-06-20T03:02:03.456Z.
let fixedHubTime: Int64 = 1_718_852_523_456

/// A temporary folder, removed when the value is released.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("inspectorsync-clienttests-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A timestamp, shorter.
func ts(_ millis: Int64, _ counter: Int64 = 0, _ device: String) -> HLCTimestamp {
    HLCTimestamp(millis: millis, counter: counter, device: device)
}

/// Reads operations written as wire JSON objects (the form of the vectors' `hub-op:` lines).
func wireOps(_ objects: [String]) throws -> [Op] {
    guard !objects.isEmpty else { return [] }
    let message = try LineCodec.decode(Array("push {\"ops\":[\(objects.joined(separator: ","))]}".utf8))
    guard case .push(let push) = message else { throw VJSONError(description: "not a push") }
    return push.ops
}

/// A device replica of the built-in plan (or `plan`).
func makeDevice(_ directory: TemporaryDirectory, _ id: String, plan: Plan = builtInPlan) throws -> ReplicaStore {
    try ReplicaStore.create(at: directory.path("\(id).sqlite"), device: id, plan: plan)
}

/// A live hub server on 127.0.0.1, port chosen by the system, over a fresh hub store.
struct LiveHub {
    let directory: TemporaryDirectory
    let store: HubStore
    let running: HubServer.Running
    let task: Task<Void, any Error>
    let port: Int

    /// - Parameters:
    ///   - clock: the hub's clock; the system clock when nil.
    ///   - allowsCompression: whether devices that offer stream compression get it.
    static func start(clock: Int64? = nil, allowsCompression: Bool = true) async throws -> LiveHub {
        let directory = TemporaryDirectory()
        let path = directory.path("hub.sqlite")
        let store = try clock.map { fixed in try HubStore.create(at: path, plan: builtInPlan, clock: { fixed }) }
            ?? HubStore.create(at: path, plan: builtInPlan)
        let server = HubServer(store: store, configuration: .init(host: "127.0.0.1", port: 0, security: try .tls(for: store), limits: .patientHandshake,
                                                                  allowsCompression: allowsCompression, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        let running = try await server.start()
        let task = Task { try await running.run() }
        let port = try HubAddress(parsing: running.address).port
        return LiveHub(directory: directory, store: store, running: running, task: task, port: port)
    }

    var address: HubAddress { HubAddress(host: "127.0.0.1", port: port) }

    func stop() async {
        running.stop()
        _ = await task.result
        withExtendedLifetime(directory) {}
    }
}

/// The SyncError thrown by `body`, or nil (recording an issue) when it throws nothing or something else.
func syncError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> SyncError? {
    do {
        try await body()
        Issue.record("expected a SyncError, the sync succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as SyncError {
        return error
    } catch {
        Issue.record("expected a SyncError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

extension ProtocolLimits {
    /// The protocol's limits with 120 s for a handshake instead of 10: the live hubs of these tests
    /// do not test that deadline (HubConnectionTests and SlowClientTests do), and a loaded CI
    /// machine running the sweeps side by side can take longer than 10 s to get a `hello` through.
    static var patientHandshake: ProtocolLimits {
        var limits = ProtocolLimits.v1
        limits.authenticationTimeout = 120
        return limits
    }
}

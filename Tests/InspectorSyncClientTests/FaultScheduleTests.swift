import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Logging
import Testing
@testable import InspectorTestSupport

/// A hub served in-process over a file that survives restarts (a new `HubStore` and `HubServer` each time).
final class RestartableHub: @unchecked Sendable {
    let path: String
    private(set) var store: HubStore
    private(set) var running: HubServer.Running
    private(set) var task: Task<Void, any Error>
    private(set) var port: Int
    private(set) var restarts = 0

    init(path: String) async throws {
        self.path = path
        store = try HubStore.create(at: path, plan: builtInPlan)
        (running, task, port) = try await Self.serve(store)
    }

    private static func serve(_ store: HubStore) async throws -> (HubServer.Running, Task<Void, any Error>, Int) {
        let server = HubServer(store: store, configuration: .init(host: "127.0.0.1", port: 0, security: try .tls(for: store), limits: .patientHandshake,
                                                                  logger: Logger(label: "fault", factory: { _ in SwiftLogNoOpLogHandler() })))
        let running = try await server.start()
        let task = Task { try await running.run() }
        return (running, task, try HubAddress(parsing: running.address).port)
    }

    var address: HubAddress { HubAddress(host: "127.0.0.1", port: port) }

    /// Stops the server, waits for it, and serves a freshly opened store of the same file.
    func restart() async throws {
        await stop()
        store = try HubStore.open(at: path)
        (running, task, port) = try await Self.serve(store)
        restarts += 1
    }

    /// Waits until no connection is being served.
    func settle() async throws {
        // A generous bound (a loaded CI machine): this waits for the hub, it does not time it.
        let deadline = ContinuousClock.now + .seconds(120)
        while running.connectionCount > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
    }

    func stop() async {
        running.stop()
        _ = await task.result
    }
}

/// Random schedules of edits, findings, cut syncs, hub restarts and clock changes over 3–6
/// devices; a full sync at the end leaves every device equal to the hub and the hub equal to the
/// reference model fed every operation.
@Suite("Random fault schedules converge")
struct FaultScheduleTests {
    static let seeds = faultSeeds("FaultScheduleTests", count: 30)

    struct Device {
        let id: String
        let store: ReplicaStore
        let clock: ShiftableClock
        let token: String
        let units: [String]
    }

    @Test(arguments: seeds)
    func scheduleConverges(seed: UInt64) async throws {
        var rng = FaultRNG(seed: seed)
        let label = "seed \(seed) (INSPECTOR_FAULT_SEED=\(seed))"
        let directory = TemporaryDirectory()
        let hub = try await RestartableHub(path: directory.path("hub.sqlite"))
        let relay = try await ByteRelay.start(hubPort: hub.port)
        var devices: [Device] = []
        for index in 0..<rng.int(3...6) {
            let id = "dev-\(index)"
            let units = index % 2 == 0 ? ["muong-lay", "muong-ang"] : ["muong-lay"]
            let clock = ShiftableClock(shift: Int64(rng.int(-3...3)) * 3_600_000)
            let token = try hub.store.addDevice(id, units: units, name: nil)
            let store = try ReplicaStore.create(at: directory.path("\(id).sqlite"), device: id, plan: builtInPlan, clock: clock.closure)
            devices.append(Device(id: id, store: store, clock: clock, token: token, units: units))
        }

        // A sync through the relay may be cut without the relay closing (20 s ends it); a direct
        // one must end well, and on a loaded CI machine (30 seeds at once beside the other suites)
        // an answer has taken more than 20 s: its bound waits for the hub, it does not time it.
        func sync(_ device: Device, via address: HubAddress, compresses: Bool) async throws -> SyncClient.Summary {
            try await SyncClient(store: device.store, address: address, token: device.token, batchSize: rng.int(1...8),
                                 responseTimeout: address == relay.address ? .seconds(20) : .seconds(180), compresses: compresses).sync()
        }
        func checkBelief(_ device: Device, _ step: Int) async throws {
            let told = try await device.store.syncState().confirmed
            let held = try await hub.store.confirmed(device: device.id)
            #expect(told <= held, "\(label), step \(step): \(device.id) believes #\(told), the hub confirms #\(held)")
        }

        var counts = (edits: 0, cuts: 0, fullSyncs: 0, restarts: 0, clockChanges: 0)
        for step in 0..<rng.int(25...45) {
            let device = rng.pick(devices)
            switch rng.int(0...99) {
            case 0..<40:
                for _ in 0..<rng.int(1...5) { try FaultEdits.edit(device.store, &rng, unit: rng.pick(device.units)); counts.edits += 1 }
            case 40..<65:
                let up = rng.chance(50)
                let offset = rng.int(0...2500)
                relay.arm(hubPort: hub.port, deviceToHub: up ? offset : nil, hubToDevice: up ? nil : offset)
                do {
                    _ = try await sync(device, via: relay.address, compresses: rng.chance(50))
                } catch let error as SyncError {
                    #expect(error.code == .connectionFailed || error.code == .protocolViolation, "\(label), step \(step): \(error)")
                }
                counts.cuts += 1
                try await hub.settle()
                try await checkBelief(device, step)
            case 65..<80:
                let summary = try await sync(device, via: hub.address, compresses: rng.chance(50))
                let last = try await device.store.lastSequence(of: device.id)
                #expect(summary.confirmed == last, "\(label), step \(step)")
                counts.fullSyncs += 1
                try await hub.settle()
                try await checkBelief(device, step)
            case 80..<88:
                try await hub.restart()
                counts.restarts += 1
            default:
                // A clock change: a jump either way, up to a week, or back to true time.
                if rng.chance(25) { device.clock.set(shift: 0) } else { device.clock.shift(by: Int64(rng.int(-7 * 86_400...7 * 86_400)) * 1000) }
                counts.clockChanges += 1
            }
        }

        // A full sync of everyone, twice round, then every device equals the hub.
        for _ in 0..<2 {
            for device in devices {
                let summary = try await sync(device, via: hub.address, compresses: rng.chance(50))
                #expect(summary.refused.isEmpty, "\(label): \(summary.refused)")
            }
        }
        try await hub.settle()
        var model = MergeState()
        var ownTotal = 0
        for device in devices {
            // A device's own ops less those it set aside (stamped too far ahead and recorded again).
            let own = try device.store.operations(device: device.id, includingSetAside: false).map(\.operation)
            ownTotal += own.count
            for op in own { #expect(model.apply(op) == .applied, "\(label): \(device.id)'s op #\(op.sequence) twice") }
            #expect(try await hub.store.confirmed(device: device.id) == (try device.store.lastSequence(of: device.id)), "\(label): \(device.id)")
            #expect(try hub.store.replica.operations(device: device.id).map(\.operation) == own, "\(label): the hub's ops of \(device.id) differ")
            // Timestamps grow with the sequence number, whatever the clock did.
            #expect(zip(own, own.dropFirst()).allSatisfy { $0.timestamp < $1.timestamp }, "\(label): \(device.id)'s timestamps are not monotonic")
            let scope = try #require(try device.store.scope())
            let expected = try await hub.store.dataset(for: device.id).canonicalJSON()
            #expect(try device.store.dataset(unitIDs: scope).canonicalJSON() == expected, "\(label): \(device.id) differs from the hub")
        }
        #expect(try hub.store.replica.operationCount() == ownTotal, "\(label)")
        #expect(model.dataset(plan: builtInPlan, units: hub.store.replica.units).canonicalJSON() == (try await hub.store.dataset().canonicalJSON()),
                "\(label): the hub differs from MergeState over the union of all operations")
        #expect(try hub.store.replica.integrityCheck() == "ok", "\(label)")
        counts.restarts = hub.restarts
        print("[FaultSchedule] \(label): \(devices.count) devices, \(counts.edits) edits, \(counts.cuts) cut syncs, \(counts.fullSyncs) full syncs, \(counts.restarts) hub restarts, \(counts.clockChanges) clock changes")
        await relay.stop()
        await hub.stop()
    }
}

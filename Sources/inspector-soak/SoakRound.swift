import Foundation
import GRDB
import InspectorCore
import InspectorFuzzing
import InspectorHub
import InspectorPlans
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Logging
import NIOCore
import Synchronization

/// One round of the soak: a live hub, 3–6 device replicas doing random edits and findings, partial
/// syncs through a cutting relay, random clock offsets and hub restarts; then a full sync and the
/// check that every device equals the hub and the reference `MergeState` model of all operations.
///
/// The round's choices come from its seed; the timing of a restart against a sync in flight does not,
/// so a replay follows the same script but may cut at other moments.
public final class SoakRound {
    public struct Result: Sendable {
        public var devices = 0
        public var operations = 0
        public var syncs = 0
        public var cuts = 0
        public var restarts = 0
        public var restartsDuringSync = 0
        /// Syncs that a restart broke (the others had finished first).
        public var syncsCutByRestart = 0
        public var clockOffsets: [Int64] = []
        public var failures: [String] = []
    }

    /// A device's clock offset, read by its store's clock.
    final class Offset: Sendable {
        private let value: Mutex<Int64>
        init(_ initial: Int64) { value = Mutex(initial) }
        var current: Int64 { value.withLock { $0 } }
        func set(_ new: Int64) { value.withLock { $0 = new } }
    }

    /// A device of the round.
    final class Device: @unchecked Sendable {  // used by the round's task only
        let id: String
        let store: ReplicaStore
        let token: String
        let offset: Offset
        var scope: Set<String> = []

        init(id: String, store: ReplicaStore, token: String, offset: Offset) {
            self.id = id
            self.store = store
            self.token = token
            self.offset = offset
        }
    }

    static let plan: Plan = {
        do { return try BuiltInPlans.current() } catch { fatalError("the built-in plan does not load: \(error)") }
    }()
    static let unitPool = ["muong-lay", "muong-ang", "so-y-te"]
    static let subUnit = Plan.Unit(id: "muong-lay.na-lay", name: "Phường Na Lay", kind: .direct, parent: "muong-lay")
    static let hotFields: [(String, String)] = [("II.4", "status"), ("II.5", "fund_percent"), ("I.1", "note"), ("II.4", "rating")]
    static let texts = [
        "Đã kiểm tra hồ sơ", "Mu\u{031B}o\u{031B}\u{0300}ng Lay", "  có khoảng trắng  ", "dòng 1\ndòng 2", "\"trích dẫn\" và \\ gạch",
        "🇻🇳 tốt", "x", "Tab\tgiữa", "Hồ sơ khen thưởng lưu trữ đầy đủ, đúng quy định",
    ]

    let seed: UInt64
    var random: SplitMix64
    let folder: URL
    let hubPath: String
    let hubOffset: Int64
    var hub: HubStore!
    var running: HubServer.Running!
    var serving: Task<Void, any Error>!
    var hubPort = 0
    var relay: CuttingRelay!
    var devices: [Device] = []
    var result = Result()
    let log: (String) -> Void

    public init(seed: UInt64, in parent: URL, log: @escaping (String) -> Void = { _ in }) throws {
        self.seed = seed
        random = SplitMix64(seed: seed)
        folder = parent.appendingPathComponent("round-\(seed)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        hubPath = folder.appendingPathComponent("hub.sqlite").path
        hubOffset = Int64(random.int(-120_000...120_000))
        self.log = log
    }

    var hubAddress: HubAddress { HubAddress(host: "127.0.0.1", port: hubPort) }

    /// Runs the round; the result lists any divergence.
    public func run() async -> Result {
        do {
            try await setUp()
            let steps = random.int(40...150)
            for _ in 0..<steps { try await step() }
            try await finish()
        } catch {
            result.failures.append("the round stopped on an unexpected error: \(error)")
        }
        await tearDown()
        return result
    }

    // MARK: - Setting up

    func startHub() async throws {
        let server = HubServer(store: hub, configuration: .init(host: "127.0.0.1", port: 0, security: try .tls(for: hub),
                                                                logger: Logger(label: "soak", factory: { _ in SwiftLogNoOpLogHandler() })))
        running = try await server.start()
        let running = running!
        serving = Task { try await running.run() }
        hubPort = try HubAddress(parsing: running.address).port
        relay?.retarget(hubPort)
    }

    func stopHub() async {
        running?.stop()
        _ = await serving?.result
        // Close the file as a process exit would, then reopen it.
        try? (hub?.replica.writer as? DatabasePool)?.close()
    }

    func setUp() async throws {
        let offset = hubOffset
        hub = try HubStore.create(at: hubPath, plan: Self.plan, clock: { ReplicaStore.systemClock() + offset })
        if random.chance(60) { try hub.addUnit(Self.subUnit) }
        try await startHub()
        relay = try await CuttingRelay.start(to: hubPort)
        let count = random.int(3...6)
        result.devices = count
        for index in 0..<count {
            let id = "dev-\(index + 1)"
            var units = [random.pick(Self.unitPool)]
            if random.chance(40) { units.append(random.pick(Self.unitPool)) }
            units = Array(Set(units)).sorted()
            let token = try hub.addDevice(id, units: units, name: nil)
            let offset = Offset(randomClockOffset())
            let store = try ReplicaStore.create(at: folder.appendingPathComponent("\(id).sqlite").path, device: id, plan: Self.plan,
                                                clock: { ReplicaStore.systemClock() + offset.current })
            let device = Device(id: id, store: store, token: token, offset: offset)
            devices.append(device)
            result.clockOffsets.append(offset.current)
            // The first sync tells the device its scope; edits stay inside it.
            _ = try await fullSync(device)
            device.scope = try store.scope() ?? []
        }
    }

    func randomClockOffset() -> Int64 {
        switch random.int(0...9) {
        case 0...3: 0
        case 4...6: Int64(random.int(-5_000...5_000))
        default: Int64(random.int(-3 * 86_400_000...3 * 86_400_000))
        }
    }

    func tearDown() async {
        await relay?.stop()
        await stopHub()
        if result.failures.isEmpty { try? FileManager.default.removeItem(at: folder) }
    }

    // MARK: - Steps

    func step() async throws {
        switch random.int(0...99) {
        case 0..<45:
            let device = random.pick(devices)
            for _ in 0..<random.int(1...20) { try edit(device) }
        case 45..<72:
            try await partialSync(random.pick(devices))
        case 72..<85:
            _ = try await fullSync(random.pick(devices))
        case 85..<91:
            await stopHub()
            hub = try HubStore.open(at: hubPath, clock: { [hubOffset] in ReplicaStore.systemClock() + hubOffset })
            try await startHub()
            result.restarts += 1
        case 91..<95:
            try await restartDuringSync(random.pick(devices))
        default:
            let device = random.pick(devices)
            let offset = randomClockOffset()
            device.offset.set(offset)
            result.clockOffsets.append(offset)
        }
    }

    /// One local edit, valid by construction, inside the device's scope.
    func edit(_ device: Device) throws {
        let store = device.store
        let units = device.scope.sorted()
        guard !units.isEmpty else { return }
        let roll = random.int(0...99)
        if roll >= 88 {
            let findings = try store.dataset(unitIDs: device.scope).findings.map(\.id).sorted()
            if !findings.isEmpty {
                try store.retractFinding(random.pick(findings), reason: random.pick(Self.texts))
                return
            }
        }
        let unit = random.pick(units)
        if roll >= 70 {
            let item: String? = random.chance(30) ? nil : random.pick(Self.plan.items).id
            try store.addFinding(unit: unit, item: item, kind: random.pick(FindingKind.allCases), text: random.pick(Self.texts))
            return
        }
        let (itemID, fieldID): (String, String)
        if random.chance(50) {
            (itemID, fieldID) = random.pick(Self.hotFields)
        } else {
            let item = random.pick(Self.plan.items)
            itemID = item.id
            fieldID = random.pick(Self.plan.fields(of: item)).id
        }
        let field = try Self.plan.field(fieldID, of: Self.plan.item(itemID))
        try store.set(unit: unit, item: itemID, field: fieldID, value: value(for: field))
    }

    /// A valid value as a person might type it (not always canonical).
    func value(for field: FieldDefinition) -> String {
        switch field.type {
        case .enum:
            let id = random.pick(field.values!).id
            return random.chance(20) ? " \(id) " : id
        case .text:
            return random.pick(Self.texts) + (random.chance(50) ? " \(random.int(0...99))" : "")
        case .integer:
            let n = random.int(0...500)
            return random.pick(["\(n)", "+\(n)", "00\(n)"])
        case .decimal:
            return "\(random.int(0...10_000_000))\(random.pick([",", "."]))\(random.int(0...99))"
        case .percent:
            if random.chance(10) { return "100" }
            return "\(random.int(0...99))\(random.pick([",", "."]))\(random.int(0...99))"
        case .date:
            return CalendarDate(daysSinceEpoch: Int64(random.int(19_000...20_500))).isoString
        }
    }

    func client(_ device: Device, via address: HubAddress, batchSize: Int = 1000) throws -> SyncClient {
        try SyncClient(store: device.store, address: address, token: device.token, batchSize: batchSize,
                       responseTimeout: .seconds(30), compresses: random.chance(70))
    }

    /// A sync with nothing in the way; it must succeed.
    @discardableResult
    func fullSync(_ device: Device) async throws -> SyncClient.Summary {
        result.syncs += 1
        let summary = try await client(device, via: hubAddress).sync()
        if !summary.refused.isEmpty { result.failures.append("\(device.id): the hub refused ops made inside its scope: \(summary.refused)") }
        try await checkProgress(device, "after a full sync")
        return summary
    }

    /// A sync through the relay, cut after a random number of bytes one way or the other.
    func partialSync(_ device: Device) async throws {
        let budget = random.chance(80) ? random.int(0...4_000) : random.int(4_000...400_000)
        if random.chance(50) { relay.arm(hubToDevice: budget, deviceToHub: nil) } else { relay.arm(hubToDevice: nil, deviceToHub: budget) }
        result.syncs += 1
        do {
            _ = try await client(device, via: HubAddress(host: "127.0.0.1", port: relay.port), batchSize: random.int(1...60)).sync()
        } catch let error as SyncError where error.code == .connectionFailed {
            // The cut came before the end.
            result.cuts += 1
        } catch {
            result.failures.append("\(device.id): a cut sync failed with \(error), not connection_failed")
        }
        try await checkProgress(device, "after a sync cut at byte \(budget)")
    }

    /// A sync during which the hub stops and starts again on the same file.
    func restartDuringSync(_ device: Device) async throws {
        result.syncs += 1
        let client = try client(device, via: hubAddress, batchSize: random.int(1...40))
        let sync = Task { try await client.sync() }
        // A random moment of the sync, from before the hub has accepted the connection on (stopping
        // the hub while it accepts one is covered: HubServerTests, docs/reliability.md).
        try await Task.sleep(for: .milliseconds(random.int(0...40)))
        await stopHub()
        hub = try HubStore.open(at: hubPath, clock: { [hubOffset] in ReplicaStore.systemClock() + hubOffset })
        try await startHub()
        result.restarts += 1
        result.restartsDuringSync += 1
        do {
            _ = try await sync.value
        } catch let error as SyncError where error.code == .connectionFailed {
            result.syncsCutByRestart += 1
        } catch {
            result.failures.append("\(device.id): a sync cut by a hub restart failed with \(error), not connection_failed")
        }
        try await checkProgress(device, "after a hub restart during its sync")
    }

    /// What holds after any sync, cut or not: the device never believes the hub holds more than it
    /// does, and it holds every op before its pull cursor that it may see.
    func checkProgress(_ device: Device, _ when: String) async throws {
        let state = try await device.store.syncState()
        let believed = state.confirmed
        let confirmed = try await hub.confirmed(device: device.id)
        if believed > confirmed {
            result.failures.append("\(device.id) \(when): believes the hub confirmed #\(believed), the hub confirms #\(confirmed)")
        }
        let cursor = state.pullCursor
        let held = Set(try device.store.operations().map(\.operation))
        let log = try hub.replica.operations()
        // A new device's compact first sync leaves out `set` ops a later one supersedes (PROTOCOL.md 11.6).
        let superseded = Op.superseded(among: log.map(\.operation))
        let due = log.filter { position, op in
            position <= cursor && op.device != device.id && device.scope.contains(op.unit)
        }
        let missing = due.filter { !held.contains($0.operation) && !superseded.contains($0.operation) }
        if !missing.isEmpty {
            result.failures.append("\(device.id) \(when): lacks \(missing.count) ops before its cursor \(cursor)")
        }
    }

    // MARK: - The end of a round

    func finish() async throws {
        // Two passes: everyone pushes, then everyone pulls what the others pushed.
        for _ in 0..<2 {
            for device in devices { try await fullSync(device) }
        }
        var reference = MergeState()
        var total = 0
        for device in devices {
            // A device's own ops less those it set aside: ops stamped beyond the hub's tolerance after
            // a clock jump are recorded again with the corrected clock (PROTOCOL.md 10.3).
            let own = try device.store.operations(device: device.id, includingSetAside: false).map(\.operation)
            let last = try await device.store.lastSequence(of: device.id)
            total += own.count
            for op in own {
                let outcome = reference.apply(op)
                if outcome != .applied { result.failures.append("\(device.id): the reference model took its op #\(op.sequence) as \(outcome)") }
            }
            let confirmed = try await hub.confirmed(device: device.id)
            if confirmed != last {
                result.failures.append("\(device.id): the hub confirms #\(confirmed) of its \(last) ops")
            }
            let believed = try await device.store.syncState().confirmed
            if believed != last {
                result.failures.append("\(device.id): believes #\(believed) confirmed of \(last)")
            }
        }
        result.operations = total
        if try hub.replica.operationCount() != total {
            result.failures.append("the hub holds \(try hub.replica.operationCount()) ops; the devices made \(total)")
        }
        if try hub.replica.integrityCheck() != "ok" { result.failures.append("the hub's file fails its integrity check") }
        let units = hub.replica.units
        let expected = reference.dataset(plan: Self.plan, units: units).canonicalJSON()
        let atHub = try await hub.dataset().canonicalJSON()
        if !atHub.utf8.elementsEqual(expected.utf8) {
            result.failures.append("the hub's dataset differs from the reference model: \(firstDifference(atHub, expected))")
        }
        for device in devices {
            var restricted = MergeState()
            for op in reference.allOperations where device.scope.contains(op.unit) { restricted.apply(op) }
            let expectedHere = restricted.dataset(plan: Self.plan, units: units.filter { device.scope.contains($0.id) }).canonicalJSON()
            let local = try device.store.dataset(unitIDs: device.scope).canonicalJSON()
            let forDevice = try await hub.dataset(for: device.id).canonicalJSON()
            if !local.utf8.elementsEqual(forDevice.utf8) {
                result.failures.append("\(device.id): differs from the hub's view for it: \(firstDifference(local, forDevice))")
            }
            if !local.utf8.elementsEqual(expectedHere.utf8) {
                result.failures.append("\(device.id): differs from the reference model: \(firstDifference(local, expectedHere))")
            }
            // Its log also keeps the ops it set aside, which the hub never holds.
            let held = try await device.store.operationCount() - device.store.setAsideOperations().count
            if held != restricted.count {
                result.failures.append("\(device.id): holds \(held) ops besides those it set aside, its scope has \(restricted.count)")
            }
        }
    }
}

/// Where two texts first differ, with a little context.
func firstDifference(_ a: String, _ b: String) -> String {
    let x = Array(a.utf8), y = Array(b.utf8)
    let index = zip(x, y).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(x.count, y.count)
    let from = max(0, index - 80)
    return "at byte \(index): «\(String(decoding: x[from..<min(x.count, index + 80)], as: UTF8.self))» vs «\(String(decoding: y[from..<min(y.count, index + 80)], as: UTF8.self))»"
}

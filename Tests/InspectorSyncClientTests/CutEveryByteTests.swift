import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import InspectorTestSupport

// MARK: - Shared by the fault tests of this target (CutEveryByte, DeliveryOrder, FaultSchedule, ClockFault)

/// The seed of a randomized test: `INSPECTOR_FAULT_SEED` when set, else drawn; printed either way.
func faultSeed(_ test: String) -> UInt64 {
    let seed = ProcessInfo.processInfo.environment["INSPECTOR_FAULT_SEED"].flatMap { UInt64($0) }
        ?? UInt64.random(in: 1...UInt64.max)
    print("[\(test)] random seed \(seed) (replay with INSPECTOR_FAULT_SEED=\(seed))")
    return seed
}

/// Seeds for a many-seed test: one given by `INSPECTOR_FAULT_SEED` (replay), else `count` drawn from a printed master seed.
func faultSeeds(_ test: String, count: Int) -> [UInt64] {
    if let one = ProcessInfo.processInfo.environment["INSPECTOR_FAULT_SEED"].flatMap({ UInt64($0) }) {
        print("[\(test)] replaying seed \(one)")
        return [one]
    }
    var master = FaultRNG(seed: UInt64.random(in: 1...UInt64.max))
    let seeds = (0..<count).map { _ in master.next() }
    print("[\(test)] \(count) seeds, each replayable with INSPECTOR_FAULT_SEED=<seed> (failures name theirs)")
    return seeds
}

/// SplitMix64: deterministic, so that a scenario replays from its seed.
struct FaultRNG: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    mutating func pick<T>(_ array: [T]) -> T { array[int(0...(array.count - 1))] }
}

/// A clock tests can move: wall-clock milliseconds plus a shift, or a fixed time.
final class ShiftableClock: Sendable {
    private let state: Mutex<(fixed: Int64?, shift: Int64)>
    init(fixed: Int64? = nil, shift: Int64 = 0) { state = Mutex((fixed, shift)) }
    func shift(by millis: Int64) { state.withLock { $0.shift += millis } }
    func set(shift millis: Int64) { state.withLock { $0.shift = millis } }
    var now: Int64 { state.withLock { ($0.fixed ?? ReplicaStore.systemClock()) + $0.shift } }
    var closure: @Sendable () -> Int64 { { self.now } }
}

/// Valid random edits on muong-lay: fields of several types, findings, retractions.
enum FaultEdits {
    static let fields: [(item: String, field: String, values: [String])] = [
        ("II.4", "status", ["in_progress", "done"]),
        ("II.4", "rating", ["tot", "kha"]),
        ("II.6.c", "staff_count", ["1", "12", "40", "007"]),
        ("II.6.d", "initiatives_recognized", ["0", "3", "25"]),
        ("II.5", "fund_percent", ["12,50", "99.9", "100"]),
        ("I.1", "note", ["Đã kiểm tra hồ sơ", "Mường Lay", "dòng 1\ndòng 2", "\"trích\" \\ 🇻🇳"]),
    ]

    @discardableResult
    static func edit(_ store: ReplicaStore, _ rng: inout FaultRNG, unit: String = "muong-lay") throws -> Op {
        let roll = rng.int(0...99)
        if roll >= 90 {
            let open = try store.dataset(unitIDs: [unit]).findings.filter { $0.retraction == nil }.map(\.id)
            if !open.isEmpty { return try store.retractFinding(rng.pick(open), reason: "Đã khắc phục \(rng.int(0...99)).") }
        }
        if roll >= 75 {
            return try store.addFinding(unit: unit, item: rng.chance(30) ? nil : "II.4", kind: rng.pick(FindingKind.allCases),
                                        text: "Ghi nhận \(rng.int(0...9999)) — \(rng.pick(["hồ sơ", "quỹ", "phong trào"]))")
        }
        let target = rng.pick(fields)
        return try store.set(unit: unit, item: target.item, field: target.field, value: rng.pick(target.values))
    }
}

/// Where a ``ByteRelay`` cuts one direction of a connection.
enum CutRule: Sendable, Equatable {
    /// After this many bytes (0: at once, before anything goes through).
    case afterBytes(Int)
    /// Inside the first line of the connection equal to `line` (its newline included), after
    /// `bytes` of it (1…`line.count`; `line.count` lets the whole line through, then cuts).
    case insideLine([UInt8], after: Int)
}

/// Applies a ``CutRule`` to a stream of chunks.
struct Cutter {
    let rule: CutRule?
    private var forwarded = 0
    /// Bytes of the current line seen so far, and whether they equal the target's first bytes.
    private var lineOffset = 0
    private var isMatching = true

    init(rule: CutRule?) { self.rule = rule }

    /// Whether the rule cuts before anything is read.
    var cutsAtOnce: Bool { rule == .afterBytes(0) }

    /// How many bytes of `chunk` go through before the cut, or nil when the whole chunk goes through.
    mutating func allowance(_ chunk: ByteBuffer) -> Int? {
        switch rule {
        case nil:
            return nil
        case .afterBytes(let budget):
            let left = budget - forwarded
            guard chunk.readableBytes < left else { forwarded = budget; return left }
            forwarded += chunk.readableBytes
            return nil
        case .insideLine(let target, let after):
            return chunk.withUnsafeReadableBytes { bytes in
                target.withUnsafeBytes { scan(bytes, for: $0, after: after) }
            }
        }
    }

    private mutating func scan(_ bytes: UnsafeRawBufferPointer, for target: UnsafeRawBufferPointer, after: Int) -> Int? {
        guard let base = bytes.baseAddress, let targetBase = target.baseAddress else { return nil }
        var index = 0
        while index < bytes.count {
            let newline = memchr(base + index, 0x0A, bytes.count - index)
            let end = newline.map { base.distance(to: UnsafeRawPointer($0)) + 1 } ?? bytes.count
            if isMatching {
                // The target has its only newline at its end, so a segment that matches up to the cut
                // point never ends a line before it.
                let needed = after - lineOffset
                let compared = min(end - index, needed)
                if memcmp(base + index, targetBase + lineOffset, compared) == 0 {
                    if compared == needed { return index + needed }
                    lineOffset += compared
                } else {
                    isMatching = false
                }
            }
            if newline != nil { lineOffset = 0; isMatching = true }
            index = end
        }
        return nil
    }
}

/// A TCP relay between a device and a hub that records the bytes of the next connection both ways
/// and cuts it where a ``CutRule`` says, in one direction or the other.
final class ByteRelay: Sendable {
    struct Recording: Sendable {
        var deviceToHub: [UInt8] = []
        var hubToDevice: [UInt8] = []
        /// Whether a rule cut the connection.
        var isCut = false
    }
    struct Plan: Sendable { var hubPort: Int; var deviceToHub: CutRule?; var hubToDevice: CutRule? }

    let port: Int
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, Never>
    private let state: State

    final class State: Sendable {
        let plan: Mutex<Plan>
        let recorded = Mutex(Recording())
        let watcher = Mutex<Watcher?>(nil)
        init(hubPort: Int) { plan = Mutex(Plan(hubPort: hubPort)) }
    }

    /// Called with each piece of bytes about to be forwarded (`true`: from the hub to the device)
    /// and the recording including it, before it is forwarded.
    typealias Watcher = @Sendable (_ isHubToDevice: Bool, _ recording: Recording) -> Void

    /// Calls `watcher` before each piece of bytes is forwarded, on the relay's task.
    func watch(_ watcher: Watcher?) { state.watcher.withLock { $0 = watcher } }

    private init(port: Int, server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, task: Task<Void, Never>, state: State) {
        self.port = port
        self.server = server
        self.task = task
        self.state = state
    }

    var address: HubAddress { HubAddress(host: "127.0.0.1", port: port) }

    /// The next connections go to `hubPort` and are cut after that many bytes each way (nil: never).
    func arm(hubPort: Int, deviceToHub: Int? = nil, hubToDevice: Int? = nil) {
        arm(hubPort: hubPort, deviceToHub: deviceToHub.map(CutRule.afterBytes), hubToDevice: hubToDevice.map(CutRule.afterBytes))
    }

    /// The next connections go to `hubPort` and are cut where the rules say (nil: never).
    func arm(hubPort: Int, deviceToHub: CutRule?, hubToDevice: CutRule?) {
        state.plan.withLock { $0 = Plan(hubPort: hubPort, deviceToHub: deviceToHub, hubToDevice: hubToDevice) }
        state.recorded.withLock { $0 = Recording() }
    }

    /// The bytes relayed since the last ``arm(hubPort:deviceToHub:hubToDevice:)``.
    var recording: Recording { state.recorded.withLock { $0 } }

    static func start(hubPort: Int) async throws -> ByteRelay {
        let raw: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: 0, childChannelInitializer: raw)
        let state = State(hubPort: hubPort)
        let task = Task<Void, Never> {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await device in connections {
                        let limits = state.plan.withLock { $0 }
                        group.addTask {
                            guard let hub = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                                .connect(host: "127.0.0.1", port: limits.hubPort, channelInitializer: raw) else {
                                try? await device.channel.close()
                                return
                            }
                            try? await device.executeThenClose { deviceIn, deviceOut in
                                try await hub.executeThenClose { hubIn, hubOut in
                                    await withTaskGroup(of: Void.self) { pair in
                                        let both = [device.channel, hub.channel]
                                        pair.addTask {
                                            await relay(deviceIn, to: hubOut, rule: limits.deviceToHub, isHubToDevice: false, closing: both, state: state) { recording, bytes in
                                                recording.deviceToHub.append(contentsOf: bytes)
                                            }
                                        }
                                        pair.addTask {
                                            await relay(hubIn, to: deviceOut, rule: limits.hubToDevice, isHubToDevice: true, closing: both, state: state) { recording, bytes in
                                                recording.hubToDevice.append(contentsOf: bytes)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return ByteRelay(port: server.channel.localAddress?.port ?? 0, server: server, task: task, state: state)
    }

    private static func relay(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                              rule: CutRule?, isHubToDevice: Bool, closing channels: [any Channel], state: State,
                              record: @escaping @Sendable (inout Recording, UnsafeRawBufferPointer) -> Void) async {
        var cutter = Cutter(rule: rule)
        do {
            if cutter.cutsAtOnce {
                state.recorded.withLock { $0.isCut = true }
            } else {
                for try await var chunk in inbound {
                    let allowance = cutter.allowance(chunk)
                    if let slice = chunk.readSlice(length: allowance ?? chunk.readableBytes), slice.readableBytes > 0 {
                        state.recorded.withLock { recording in slice.withUnsafeReadableBytes { record(&recording, $0) } }
                        // A copy of the recording only when watched: the next append would copy it again.
                        if let watcher = state.watcher.withLock({ $0 }) { watcher(isHubToDevice, Self.recording(of: state)) }
                        try await outbound.write(slice)
                    }
                    if allowance != nil {
                        state.recorded.withLock { $0.isCut = true }
                        break
                    }
                }
            }
        } catch {}
        for channel in channels { try? await channel.close() }
    }

    private static func recording(of state: State) -> Recording { state.recorded.withLock { $0 } }

    func stop() async {
        try? await server.channel.close()
        await task.value
    }
}

/// The messages of a recorded uncompressed stream, with the offset just past each line's newline.
func recordedLines(_ bytes: [UInt8]) -> [(end: Int, message: Message?)] {
    var result: [(Int, Message?)] = []
    var start = 0
    for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
        result.append((index + 1, try? LineCodec.decode(bytes[start..<index])))
        start = index + 1
    }
    return result
}

// MARK: - Cutting a sync at every byte

@Suite("A sync cut at every byte offset, either way, then resumed", .serialized)
struct CutEveryByteTests {
    /// One kind of session: dev-a pushes `pushes` operations to a hub holding `pulls` of dev-b's, in batches of `batch`.
    struct Session: Sendable, CustomStringConvertible {
        var pushes: Int
        var pulls: Int
        var batch: Int
        var compresses: Bool
        /// Whether the operations are generated directly (``LongSessionOperations``) rather than
        /// recorded through edits one by one: much faster for large sessions.
        var isSynthetic = false
        var description: String { "\(pushes)-op push, \(pulls)-op pull, batches of \(batch), \(compresses ? "compressed" : "uncompressed")" }
    }

    static let deviceTime: Int64 = fixedHubTime - 1234

    /// Template files of a session (hub and device before the sync), the uninterrupted run's
    /// recording and final datasets.
    struct Fixture: Sendable {
        let session: Session
        let directory: TemporaryDirectory
        let tokenA: String
        let recording: ByteRelay.Recording
        let deviceJSON: String
        let hubJSON: String
        var hubTemplate: String { directory.path("hub.sqlite") }
        var deviceTemplate: String { directory.path("dev-a.sqlite") }
    }

    /// A fresh copy of the templates, a hub serving it and a relay.
    struct Run {
        let directory: TemporaryDirectory
        let hub: HubStore
        let running: HubServer.Running
        let task: Task<Void, any Error>
        let hubPort: Int
        let device: ReplicaStore

        static func start(_ fixture: Fixture) async throws -> Run {
            let directory = TemporaryDirectory()
            for (source, name) in [(fixture.hubTemplate, "hub.sqlite"), (fixture.deviceTemplate, "dev-a.sqlite")] {
                for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: source + suffix) {
                    try FileManager.default.copyItem(atPath: source + suffix, toPath: directory.path(name + suffix))
                }
            }
            let hub = try HubStore.open(at: directory.path("hub.sqlite"), clock: { fixedHubTime })
            // The line protocol in clear (a lab hub, PROTOCOL.md 2.9): every byte offset must mean the
            // same thing in every run, and TLS bytes differ from run to run (fresh keys and nonces, an
            // ECDSA signature of varying length). Cuts inside TLS are covered by aSyncCutAtAnyByteResumes,
            // FaultScheduleTests and CutLongSessionTests.
            let server = HubServer(store: hub, configuration: .init(host: "127.0.0.1", port: 0, security: .tlsAndPlaintext(try HubTLS(identity: hub.identity)),
                                                                    limits: .patientHandshake, logger: Logger(label: "cut", factory: { _ in SwiftLogNoOpLogHandler() })))
            let running = try await server.start()
            let task = Task { try await running.run() }
            let port = try HubAddress(parsing: running.address).port
            let device = try ReplicaStore.open(at: directory.path("dev-a.sqlite"), clock: { CutEveryByteTests.deviceTime })
            return Run(directory: directory, hub: hub, running: running, task: task, hubPort: port, device: device)
        }


        func sync(_ fixture: Fixture, via address: HubAddress?) async throws -> SyncClient.Summary {
            try await SyncClient(store: device, address: address ?? HubAddress(host: "127.0.0.1", port: hubPort),
                                 token: try EnrollmentLine(parsing: fixture.tokenA).secret, batchSize: fixture.session.batch,
                                 responseTimeout: .seconds(20), compresses: fixture.session.compresses, allowsPlaintext: true).sync()
        }

        /// Waits until the hub has finished with every connection (so its state is final).
        func settle() async throws {
            // A generous bound (a loaded CI machine): this waits for the hub, it does not time it.
            let deadline = ContinuousClock.now + .seconds(120)
            while running.connectionCount > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            #expect(running.connectionCount == 0, "the hub still serves a connection")
        }

        func stop() async {
            running.stop()
            _ = await task.result
        }
    }

    /// Builds the templates and records an uninterrupted session.
    static func fixture(_ session: Session) async throws -> Fixture {
        let directory = TemporaryDirectory()
        let tokenA: String
        do {
            let hub = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan, clock: { fixedHubTime })
            tokenA = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
            _ = try hub.addDevice("dev-b", units: ["muong-lay"], name: nil)
            let deviceB = try #require(try await hub.device("dev-b"))
            let a = try ReplicaStore.create(at: directory.path("dev-a.sqlite"), device: "dev-a", plan: builtInPlan, clock: { deviceTime })
            // dev-a has synced before (a day ago), so its pulls are in full: every op of the session
            // crosses the cut. (A new device's compact first sync, PROTOCOL.md 11.6, is cut and resumed
            // in CrashScheduleTests and replayed from compact-pull.txt.)
            try await a.recordSyncEnded(at: deviceTime - 86_400_000)
            if session.isSynthetic {
                // Interleaved clocks, so that last-writer-wins decides between the two devices' edits.
                let pulls = LongSessionOperations.make(device: "dev-b", count: session.pulls, startMillis: deviceTime - 3_600_000, seed: 11)
                for start in stride(from: 0, to: pulls.count, by: 1000) {
                    let pushed = try await hub.push(Message.Push(ops: Array(pulls[start..<min(start + 1000, pulls.count)]), withdrawn: []),
                                                    from: deviceB, scope: ["muong-lay"])
                    try #require(pushed.applied == min(1000, pulls.count - start))
                }
                let own = LongSessionOperations.make(device: "dev-a", count: session.pushes, startMillis: deviceTime - 3_600_000 + 3, seed: 12)
                try #require(try a.restoreOwnOperations(own).applied == session.pushes)
            } else {
                let b = try ReplicaStore.create(at: directory.path("dev-b.sqlite"), device: "dev-b", plan: builtInPlan, clock: { fixedHubTime - 50 })
                var rng = FaultRNG(seed: 7)
                var pulls: [Op] = []
                for _ in 0..<session.pulls { pulls.append(try FaultEdits.edit(b, &rng)) }
                let pushed = try await hub.push(Message.Push(ops: pulls, withdrawn: []), from: deviceB, scope: ["muong-lay"])
                try #require(pushed.applied == session.pulls)
                for _ in 0..<session.pushes { try FaultEdits.edit(a, &rng) }
            }
        }
        // The stores above are closed now; record an uninterrupted run on copies.
        var fixture = Fixture(session: session, directory: directory, tokenA: tokenA, recording: .init(), deviceJSON: "", hubJSON: "")
        let run = try await Run.start(fixture)
        let relay = try await ByteRelay.start(hubPort: run.hubPort)
        let summary = try await run.sync(fixture, via: relay.address)
        #expect(summary.pushed == session.pushes && summary.pulled == session.pulls && summary.confirmed == Int64(session.pushes), "\(summary)")
        try await run.settle()
        fixture = Fixture(session: session, directory: directory, tokenA: tokenA, recording: relay.recording,
                          deviceJSON: try run.device.dataset(unitIDs: ["muong-lay"]).canonicalJSON(),
                          hubJSON: try await run.hub.dataset().canonicalJSON())
        await relay.stop()
        await run.stop()
        // A second uninterrupted run gives the same bytes: the offsets mean the same thing in every run.
        let again = try await Run.start(fixture)
        let relay2 = try await ByteRelay.start(hubPort: again.hubPort)
        _ = try await again.sync(fixture, via: relay2.address)
        try await again.settle()
        let second = relay2.recording
        #expect(second.deviceToHub == fixture.recording.deviceToHub && second.hubToDevice == fixture.recording.hubToDevice,
                "two uninterrupted sessions differ in their bytes")
        await relay2.stop()
        await again.stop()
        print("[CutEveryByte] \(session): \(fixture.recording.deviceToHub.count) bytes device→hub, \(fixture.recording.hubToDevice.count) hub→device")
        return fixture
    }

    enum Direction: String, Sendable { case deviceToHub = "device→hub", hubToDevice = "hub→device" }

    /// What one cut run saw, for the totals.
    struct Outcome: Sendable { var cutSyncFailed: Bool; var resumedPullShorter: Bool; var resumedPushShorter: Bool }

    /// Cuts one session at `offset` in `direction`, resumes, and checks everything.
    static func cut(_ fixture: Fixture, _ direction: Direction, at offset: Int) async throws -> Outcome {
        let session = fixture.session
        let label = "\(session), cut \(direction.rawValue) after \(offset) bytes"
        let run = try await Run.start(fixture)
        let relay = try await ByteRelay.start(hubPort: run.hubPort)
        relay.arm(hubPort: run.hubPort, deviceToHub: direction == .deviceToHub ? offset : nil, hubToDevice: direction == .hubToDevice ? offset : nil)
        var failed = false
        do {
            _ = try await run.sync(fixture, via: relay.address)
        } catch let error as SyncError {
            #expect(error.code == .connectionFailed || error.code == .protocolViolation && session.compresses, "\(label): \(error)")
            failed = true
        }
        try await run.settle()
        await relay.stop()

        // State after the cut: what the hub holds of dev-a, what dev-a pulled.
        let hubHeld = try run.hub.replica.operations(device: "dev-a").map(\.operation.sequence)
        let devicePulled = try run.device.operations(device: "dev-b").count
        let told = try await run.device.syncState().confirmed
        #expect(hubHeld == Array(stride(from: Int64(1), through: Int64(hubHeld.count), by: 1)), "\(label): the hub holds \(hubHeld)")
        #expect(told <= Int64(hubHeld.count), "\(label): the device believes #\(told), the hub holds \(hubHeld.count)")
        if !session.compresses {
            // Only lines that arrived with their newline were applied; lines answered before the cut were.
            let bytes = direction == .deviceToHub ? fixture.recording.deviceToHub : fixture.recording.hubToDevice
            let complete = recordedLines(bytes).filter { $0.end <= offset }
            func count(_ lines: ArraySlice<(end: Int, message: Message?)>) -> Int {
                lines.reduce(0) { total, line in
                    switch line.message {
                    case .push(let push)?: total + push.ops.count
                    case .ops(let batch)?: total + batch.ops.count
                    default: total
                    }
                }
            }
            let atMost = count(complete[...]), atLeast = count(complete.dropLast())
            let applied = direction == .deviceToHub ? hubHeld.count : devicePulled
            #expect(applied >= atLeast && applied <= atMost,
                    "\(label): \(applied) applied; the complete lines carry \(atMost), the acknowledged ones \(atLeast)")
            if direction == .deviceToHub {
                #expect(devicePulled == 0 || complete.contains { if case .pull? = $0.message { true } else { false } },
                        "\(label): dev-a pulled before its pull request arrived")
            }
        }

        // Resume directly: only what is missing moves.
        let resumed = try await run.sync(fixture, via: nil)
        try await run.settle()
        #expect(resumed.pushed == session.pushes - hubHeld.count, "\(label): the resumed sync pushed \(resumed.pushed), \(session.pushes - hubHeld.count) were missing")
        #expect(resumed.pulled == session.pulls - devicePulled, "\(label): the resumed sync pulled \(resumed.pulled), \(session.pulls - devicePulled) were missing")
        #expect(resumed.confirmed == Int64(session.pushes), "\(label)")
        // Exactly once, and the same end state as the uninterrupted run.
        let finalHub = try run.hub.replica.operations(device: "dev-a").map(\.operation.sequence)
        #expect(finalHub == Array(1...Int64(session.pushes)), "\(label): the hub holds dev-a's \(finalHub.count) ops, not 1…\(session.pushes) once each")
        #expect(try run.hub.replica.operationCount() == session.pushes + session.pulls, "\(label)")
        #expect(try run.device.operationCount() == session.pushes + session.pulls, "\(label)")
        #expect(try run.device.dataset(unitIDs: ["muong-lay"]).canonicalJSON() == fixture.deviceJSON, "\(label): the device's dataset differs")
        #expect(try await run.hub.dataset().canonicalJSON() == fixture.hubJSON, "\(label): the hub's dataset differs")
        await run.stop()
        return Outcome(cutSyncFailed: failed, resumedPullShorter: devicePulled > 0 && resumed.pulled < session.pulls,
                       resumedPushShorter: hubHeld.count > 0 && resumed.pushed < session.pushes)
    }

    /// Runs the cuts, `width` at a time, and prints the totals.
    static func sweep(_ fixture: Fixture, _ cuts: [(Direction, Int)], width: Int = 3) async throws {
        let started = Date()
        var outcomes: [Outcome] = []
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            var pending = cuts[...]
            for _ in 0..<width {
                guard let (direction, offset) = pending.popFirst() else { break }
                group.addTask { try await cut(fixture, direction, at: offset) }
            }
            while let outcome = try await group.next() {
                outcomes.append(outcome)
                if let (direction, offset) = pending.popFirst() { group.addTask { try await cut(fixture, direction, at: offset) } }
            }
        }
        let failed = outcomes.filter(\.cutSyncFailed).count
        let shorterPulls = outcomes.filter(\.resumedPullShorter).count
        let shorterPushes = outcomes.filter(\.resumedPushShorter).count
        print("[CutEveryByte] \(fixture.session): \(cuts.count) cuts in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; \(failed) cut syncs failed, \(shorterPushes) resumed pushes and \(shorterPulls) resumed pulls moved only the missing part")
        #expect(failed > cuts.count / 2, "most cuts should break the sync")
        if fixture.session.pulls > 1 { #expect(shorterPulls > 0, "no resumed pull started after zero") }
        if fixture.session.pushes > 1 { #expect(shorterPushes > 0, "no resumed push started after zero") }
    }

    static func everyOffset(_ fixture: Fixture, stride step: Int = 1) -> [(Direction, Int)] {
        Array(stride(from: 0, to: fixture.recording.deviceToHub.count, by: step)).map { (Direction.deviceToHub, $0) }
            + Array(stride(from: 0, to: fixture.recording.hubToDevice.count, by: step)).map { (Direction.hubToDevice, $0) }
    }

    @Test("1-op session, uncompressed: every byte offset both ways")
    func oneOpEveryByte() async throws {
        let fixture = try await Self.fixture(Session(pushes: 1, pulls: 1, batch: 1, compresses: false))
        try await Self.sweep(fixture, Self.everyOffset(fixture))
    }

    @Test("10-op session, uncompressed: every byte offset both ways")
    func tenOpsEveryByte() async throws {
        let fixture = try await Self.fixture(Session(pushes: 10, pulls: 10, batch: 4, compresses: false))
        try await Self.sweep(fixture, Self.everyOffset(fixture))
    }

    @Test("1- and 10-op sessions, compressed: a sweep of offsets both ways")
    func compressedSweep() async throws {
        for session in [Session(pushes: 1, pulls: 1, batch: 1, compresses: true), Session(pushes: 10, pulls: 10, batch: 4, compresses: true)] {
            let fixture = try await Self.fixture(session)
            try await Self.sweep(fixture, Self.everyOffset(fixture, stride: session.pushes == 1 ? 7 : 19))
        }
    }

    @Test("1,000-op session, uncompressed: 200 random offsets")
    func thousandOpsRandomOffsets() async throws {
        var rng = FaultRNG(seed: faultSeed("thousandOpsRandomOffsets"))
        let fixture = try await Self.fixture(Session(pushes: 1000, pulls: 1000, batch: 100, compresses: false))
        let up = fixture.recording.deviceToHub.count, down = fixture.recording.hubToDevice.count
        let cuts: [(Direction, Int)] = (0..<200).map { index in
            index % 2 == 0 ? (.deviceToHub, rng.int(0...(up - 1))) : (.hubToDevice, rng.int(0...(down - 1)))
        }
        try await Self.sweep(fixture, cuts)
    }
}

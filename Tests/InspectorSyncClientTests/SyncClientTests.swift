import Foundation
import GRDB
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

/// `SyncClient` against a live hub in the same process.
@Suite("SyncClient with a live hub")
struct SyncClientTests {
    /// A live hub with dev-a and dev-b on muong-lay, dev-b also on so-y-te, and their replicas.
    struct Setup {
        let hub: LiveHub
        let directory = TemporaryDirectory()
        let a: ReplicaStore
        let b: ReplicaStore
        let tokenA: String
        let tokenB: String

        init(hubClock: Int64? = nil) async throws {
            hub = try await LiveHub.start(clock: hubClock)
            tokenA = try hub.store.addDevice("dev-a", units: ["muong-lay"], name: "Lò Văn Hùng")
            tokenB = try hub.store.addDevice("dev-b", units: ["muong-lay", "so-y-te"], name: nil)
            a = try makeDevice(directory, "dev-a")
            b = try makeDevice(directory, "dev-b")
            try a.connect(toHubAt: hub.address.description, token: tokenA)
            try b.connect(toHubAt: hub.address.description, token: tokenB)
        }

        func sync(_ store: ReplicaStore, batchSize: Int = 1000, compresses: Bool = true) async throws -> SyncClient.Summary {
            try await SyncClient(store: store, batchSize: batchSize, responseTimeout: .seconds(20), compresses: compresses).sync()
        }
    }

    @Test func twoDevicesConvergeThroughTheHub() async throws {
        let setup = try await Setup()
        let (a, b) = (setup.a, setup.b)
        try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
        try await a.set(unit: "muong-lay", item: "II.5", field: "fund_percent", value: "12,50")
        let finding = try await a.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: " Chưa lập quỹ riêng. ")
        try await b.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        try await b.set(unit: "so-y-te", item: "II.1", field: "rating", value: "kha")
        try await b.addFinding(unit: "muong-lay", item: nil, kind: .goodPractice, text: "Phong trào thi đua sôi nổi.")

        let first = try await setup.sync(a)
        #expect(first.pushed == 3 && first.pulled == 0 && first.confirmed == 3)
        let second = try await setup.sync(b)
        #expect(second.pushed == 3 && second.pulled == 3 && second.confirmed == 3)
        let finish = try await setup.sync(a)
        #expect(finish.pushed == 0 && finish.pulled == 2, "dev-a gets dev-b's muong-lay operations, not so-y-te's")
        // dev-b retracts dev-a's finding after seeing it; one more round.
        try await b.retractFinding(finding.finding!, reason: "Đã khắc phục.")
        _ = try await setup.sync(b)
        _ = try await setup.sync(a)

        let scopeA: Set<String> = ["muong-lay"]
        let hubView = try await setup.hub.store.dataset(for: "dev-a").canonicalJSON()
        #expect(try a.dataset(unitIDs: scopeA).canonicalJSON() == hubView)
        #expect(try b.dataset(unitIDs: scopeA).canonicalJSON() == hubView)
        let dataset = try a.dataset(unitIDs: scopeA)
        #expect(dataset.values.first { $0.field == "fund_percent" }?.current.value == "12.5")
        #expect(dataset.findings.first { $0.id == finding.finding }?.retraction?.value == "Đã khắc phục.")
        #expect(dataset.conflicts.count == 1, "both devices set II.4 status")
        let hubViewB = try await setup.hub.store.dataset(for: "dev-b")
        #expect(try b.dataset(unitIDs: ["so-y-te"]) == hubViewB.restricted(to: ["so-y-te"]))
        #expect(try a.operations().allSatisfy { $0.operation.unit != "so-y-te" })
        await setup.hub.stop()
    }

    @Test func aRefusedOperationIsSetAsideAndTheNextSyncSucceeds() async throws {
        let setup = try await Setup()
        let a = setup.a
        // Before its first sync the device does not know its scope: it may write any unit of the plan.
        try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        try await a.set(unit: "so-y-te", item: "II.4", field: "status", value: "done")
        try await a.set(unit: "muong-lay", item: "II.6.c", field: "staff_count", value: "12")
        let first = try await setup.sync(a)
        #expect(first.refused.map(\.sequence) == [2])
        #expect(first.refused.first?.code == "out_of_scope")
        #expect(first.pushed == 2)
        #expect(first.confirmed == 3, "1 and 3 are held, 2 is withdrawn")
        #expect(try await setup.hub.store.confirmed(device: "dev-a") == 3)
        #expect(try setup.hub.store.replica.operationCount() == 2)

        // Now the scope is known: the device refuses new writes outside it.
        #expect(throws: StoreError.self) { try a.set(unit: "so-y-te", item: "II.4", field: "status", value: "done") }
        try await a.set(unit: "muong-lay", item: "II.6.c", field: "staff_count", value: "13")
        let second = try await setup.sync(a)
        #expect(second.refused.isEmpty)
        #expect(second.pushed == 1 && second.confirmed == 4)

        let status = try SyncStatus(store: a)
        #expect(status.pending == 0)
        #expect(status.refused.map(\.sequence) == [2])
        #expect(status.text.contains("set aside: #2 refused by the hub (out_of_scope): operation 2 touches unit 'so-y-te'"))
        #expect(status.text.contains("everything recorded here is safe at the hub"))
        await setup.hub.stop()
    }

    @Test func statusTextBeforeAndAfterASync() async throws {
        let setup = try await Setup(hubClock: fixedHubTime)
        let a = setup.a
        try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        try await a.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
        let before = try SyncStatus(store: a)
        #expect(before.text == """
            device: dev-a
            hub: \(setup.hub.address)
            operations in the log: 2
            this device's operations: 2; confirmed by the hub up to #0
            only on this device: 2 operation(s) — sync before leaving coverage
            clock offset to the hub: not measured yet
            last sync: never
            """)
        let summary = try await setup.sync(a)
        let after = try SyncStatus(store: a)
        #expect(after.confirmed == 2 && after.pending == 0)
        #expect(after.clockOffset == summary.clockOffset)
        #expect(after.isClockOffsetLarge, "the hub's clock is fixed in 2024")
        #expect(after.scope == ["muong-lay"])
        let lines = after.text.split(separator: "\n").map(String.init)
        #expect(lines.contains("this device's operations: 2; confirmed by the hub up to #2"))
        #expect(lines.contains("everything recorded here is safe at the hub"))
        #expect(lines.contains { $0.hasPrefix("clock offset to the hub: -") && $0.hasSuffix("WARNING: beyond 5 minutes") })
        #expect(lines.contains { $0.hasPrefix("last sync: 20") })
        #expect(lines.last == "assigned units: muong-lay")
        await setup.hub.stop()
    }

    /// A replica re-created under an id that already synced edits must not call its edits safe.
    @Test func aReplicaBehindTheHubIsNeverCalledSafe() async throws {
        let setup = try await Setup(hubClock: fixedHubTime)
        try await setup.a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        try await setup.a.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
        _ = try await setup.sync(setup.a)
        let directory = TemporaryDirectory()
        let again = try makeDevice(directory, "dev-a")
        try await again.set(unit: "muong-lay", item: "II.4", field: "note", value: "Ghi trên máy mới")
        // The device's key came along (the phone was reset, the key file kept): the hub admits it.
        let key = try #require(try TLSIdentity.load(keyFile: SyncClient.keyFile(of: setup.a)))
        let error = await syncError { _ = try await SyncClient(store: again, address: setup.hub.address, token: setup.tokenA, identity: key).sync() }
        #expect(error?.code == .replicaBehindHub, "\(String(describing: error))")
        let status = try SyncStatus(store: again)
        #expect(status.isBehindHub)
        #expect(!status.text.contains("safe at the hub"), "\(status.text)")
        #expect(status.text.contains("WARNING: the hub holds #2 of device dev-a's operations but this replica only #1"), "\(status.text)")
        await setup.hub.stop()
    }

    /// An app's "only on this tablet" badge: the status observed while edits are made and a sync runs.
    @Test func theStatusIsObservedThroughEditsAndASync() async throws {
        let setup = try await Setup(hubClock: fixedHubTime)
        let a = setup.a
        var statuses = SyncStatus.observe(a).makeAsyncIterator()
        let first = try #require(try await statuses.next())
        #expect(first.pending == 0 && first.confirmed == 0 && first.lastSync == nil)
        try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        try await a.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
        var seen: [Int64] = []
        while let status = try await statuses.next() {
            seen.append(status.pending)
            if status.pending == 2 { break }
        }
        #expect(seen.last == 2, "the pending count followed the edits: \(seen)")
        _ = try await setup.sync(a)
        var after: SyncStatus?
        while let status = try await statuses.next() {
            after = status
            if status.lastSync != nil { break }
        }
        #expect(after?.pending == 0 && after?.confirmed == 2 && after?.scope == ["muong-lay"], "\(String(describing: after))")
        #expect(after == (try SyncStatus(store: a)), "the last status observed is the one read")
        await setup.hub.stop()
    }

    @Test func cristiansMethodEstimatesTheOffsetToTheHub() async throws {
        let hubTime = fixedHubTime
        let setup = try await Setup(hubClock: hubTime)
        let before = ReplicaStore.systemClock()
        let summary = try await setup.sync(setup.a)
        let after = ReplicaStore.systemClock()
        // offset = hub_time + rtt/2 − receive_time: between hub_time − after and hub_time − before.
        #expect(summary.clockOffset >= hubTime - after - 1 && summary.clockOffset <= hubTime - before + 1)
        let savedOffset = try await setup.a.syncState().clockOffset
        #expect(savedOffset == summary.clockOffset)
        await setup.hub.stop()
    }

    @Test func theHubsPlanReplacesADifferentPlanOnTheDevice() async throws {
        let setup = try await Setup()
        var older = builtInPlan
        older.title = "Kế hoạch (bản cũ)"
        let directory = TemporaryDirectory()
        let device = try makeDevice(directory, "dev-a", plan: older)
        #expect(device.plan.digest != builtInPlan.digest)
        _ = try await SyncClient(store: device, address: setup.hub.address, token: setup.tokenA).sync()
        #expect(device.plan == builtInPlan)
        #expect(device.plan.digest == builtInPlan.digest)
        await setup.hub.stop()
    }

    @Test func refusalsOfTheHandshakeAreReportedWithTheHubsCode() async throws {
        let setup = try await Setup()
        let wrongLine = EnrollmentLine(secret: String(repeating: "0", count: 64), hubKey: setup.hub.store.identity.fingerprint).description
        let wrong = await syncError { _ = try await SyncClient(store: setup.a, token: wrongLine).sync() }
        #expect(wrong?.code == .refusedByHub)
        #expect(wrong?.hubCode == .unauthorized)
        try setup.hub.store.revokeDevice("dev-a")
        let revoked = await syncError { _ = try await setup.sync(setup.a) }
        #expect(revoked?.hubCode == .unauthorized)
        await setup.hub.stop()
        let gone = await syncError { _ = try await setup.sync(setup.b) }
        #expect(gone?.code == .connectionFailed)
    }

    @Test func aReplicaWithoutAHubIsNotConfigured() throws {
        let directory = TemporaryDirectory()
        let store = try makeDevice(directory, "dev-a")
        #expect(throws: SyncError.self) { _ = try SyncClient(store: store) }
        do { _ = try SyncClient(store: store) } catch let error as SyncError { #expect(error.code == .notConfigured) } catch {}
    }

    @Test func longTextsSyncInSeveralLinesUnderTheLimit() async throws {
        let setup = try await Setup()
        // 150 notes of 4000 characters of 3 UTF-8 bytes: 1.8 MB, more than one line may hold.
        let text = String(repeating: "ệ", count: 3995)
        for index in 0..<150 {
            try await setup.a.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "\(index) \(text)")
        }
        let pushed = try await setup.sync(setup.a)
        #expect(pushed.pushed == 150 && pushed.confirmed == 150)
        // Without compression the socket carries every byte of the text (bytesReceived counts socket bytes).
        let pulled = try await setup.sync(setup.b, compresses: false)
        #expect(pulled.pulled == 150)
        #expect(pulled.bytesReceived > 1_800_000)
        await setup.hub.stop()
    }

    /// Text limits count grapheme clusters, which do not bound bytes: 4000 characters of stacked
    /// combining marks would exceed the 1 MiB line. Text is also capped at 16 KiB of UTF-8
    /// (`Text.maximumBytes`), so the device refuses such a value and every value it accepts travels.
    @Test func everyValueADeviceAcceptsCanTravel() async throws {
        let setup = try await Setup()
        let cluster = "a" + String(repeating: "\u{0316}", count: 150)  // one character, 301 bytes
        let note = String(repeating: cluster, count: 4000)
        #expect(note.count == 4000 && note.utf8.count > 1_048_576)
        let recorded = await (try? setup.a.set(unit: "muong-lay", item: "II.4", field: "note", value: note)) != nil
        let synced: Bool
        do { _ = try await setup.sync(setup.a); synced = true } catch { synced = false }
        #expect(!recorded || synced, "the device recorded a value it can never sync")
        #expect(!recorded, "a text over \(Text.maximumBytes) bytes of UTF-8 is refused")
        // The largest text by bytes a device accepts: 4000 characters of 4 UTF-8 bytes each.
        let widest = String(repeating: "\u{1F3DB}", count: 4000)
        #expect(widest.utf8.count == 16_000 && widest.utf8.count <= Text.maximumBytes)
        try await setup.a.set(unit: "muong-lay", item: "II.4", field: "note", value: widest)
        let summary = try await setup.sync(setup.a)
        #expect(summary.pushed == 1 && summary.refused.isEmpty)
        #expect(try setup.hub.store.replica.operations(device: "dev-a").map(\.operation.value) == [widest])
        await setup.hub.stop()
    }

    /// PROTOCOL.md 2.5 and 11.4: the next `pull` leaves as soon as a batch is read, and the batch is
    /// stored while the hub prepares the next one; the saved cursor still moves only with the batch.
    @Test func theNextPullLeavesBeforeTheBatchIsStored() async throws {
        let directory = TemporaryDirectory()
        let hub = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan)
        let tokenA = try EnrollmentLine(parsing: hub.addDevice("dev-a", units: ["muong-lay"], name: nil)).secret
        let tokenB = try EnrollmentLine(parsing: hub.addDevice("dev-b", units: ["muong-lay"], name: nil)).secret
        // A lab hub in clear and no compression: the relay reads the lines.
        let running = try await HubServer(store: hub, configuration: .init(host: "127.0.0.1", port: 0, security: .plaintextOnly, limits: .patientHandshake,
                                                                           logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))).start()
        let task = Task { try await running.run() }
        let hubAddress = try HubAddress(parsing: running.address)
        let b = try makeDevice(directory, "dev-b")
        // Findings: a new device's compact pull (11.6) sends every one of them.
        for index in 1...30 { try await b.addFinding(unit: "muong-lay", item: "II.4", kind: .observation, text: "Ghi nhận số \(index)") }
        _ = try await SyncClient(store: b, address: hubAddress, token: tokenB, compresses: false, allowsPlaintext: true).sync()

        let a = try makeDevice(directory, "dev-a")
        let relay = try await ByteRelay.start(hubPort: hubAddress.port)
        relay.arm(hubPort: hubAddress.port)
        // Another connection takes the replica's write lock just before the first batch reaches the
        // device, and gives it back when the device's second pull reaches the hub: a device that
        // stored a batch before asking for the next would wait on the lock until its busy timeout
        // (10 s) and fail the sync.
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let blocker = try DatabaseQueue(path: a.path, configuration: configuration)
        enum Lock { case waiting, held, released }
        let lock = Mutex(Lock.waiting)
        let secondPullWhileHeld = Mutex(false)
        relay.watch { isHubToDevice, recording in
            let pulls = String(decoding: recording.deviceToHub, as: UTF8.self).components(separatedBy: "\npull ").count - 1
            lock.withLock { state in
                if isHubToDevice, state == .waiting, String(decoding: recording.hubToDevice, as: UTF8.self).contains("\nops ") {
                    // Not `try?`: a lock not taken would let a client that does not pipeline pass.
                    do { try blocker.inDatabase { try $0.execute(sql: "BEGIN IMMEDIATE") } } catch { Issue.record("could not take the write lock: \(error)") }
                    state = .held
                } else if !isHubToDevice, state == .held, pulls >= 2 {
                    secondPullWhileHeld.withLock { $0 = true }
                    do { try blocker.inDatabase { try $0.execute(sql: "ROLLBACK") } } catch { Issue.record("could not give the write lock back: \(error)") }
                    state = .released
                }
            }
        }
        let summary = try await SyncClient(store: a, address: relay.address, token: tokenA, batchSize: 10, responseTimeout: .seconds(60),
                                           compresses: false, allowsPlaintext: true).sync()
        #expect(secondPullWhileHeld.withLock { $0 }, "the second pull reached the hub while the first batch could not be stored")
        #expect(summary.pulled == 30)
        // The pulls asked for the batches in turn: each carries the cursor the previous batch ended at.
        let lines = recordedLines(relay.recording.deviceToHub).compactMap(\.message)
        let batches = recordedLines(relay.recording.hubToDevice).compactMap { line -> Message.OpsBatch? in
            if case .ops(let batch) = line.message { batch } else { nil }
        }
        let cursors = lines.compactMap { message -> Int64? in if case .pull(let pull) = message { pull.cursor } else { nil } }
        // Three full batches, then an empty one (a batch of `limit` ops says `more`, 11.3).
        #expect(batches.count == 4 && cursors == [0] + batches.dropLast().map(\.cursor), "pulls from \(cursors), batches to \(batches.map(\.cursor))")
        #expect(try await a.syncState().pullCursor == batches.last?.cursor)
        #expect(try await a.dataset(unitIDs: ["muong-lay"]).canonicalJSON() == hub.dataset(for: "dev-a").canonicalJSON())
        await relay.stop()
        running.stop()
        _ = await task.result
    }

    @Test func progressIsReported() async throws {
        let setup = try await Setup()
        // dev-b has synced once, so its pulls are in full (a new device's first sync is compact and
        // would bring only the last of dev-a's five values, PROTOCOL.md 11.6).
        _ = try await setup.sync(setup.b)
        for value in ["1", "2", "3", "4", "5"] {
            try await setup.a.set(unit: "muong-lay", item: "II.6.c", field: "staff_count", value: value)
        }
        let events = Mutex<[String]>([])
        _ = try await SyncClient(store: setup.a, batchSize: 2, progress: { event in
            events.withLock { $0.append("\(event)") }
        }).sync()
        #expect(events.withLock { $0 } == ["connecting", "pushing(done: 0, total: 5)", "pushing(done: 2, total: 5)", "pushing(done: 4, total: 5)",
                                           "pushing(done: 5, total: 5)", "pulling(received: 0, total: Optional(0))"])
        events.withLock { $0.removeAll() }
        _ = try await SyncClient(store: setup.b, batchSize: 2, progress: { event in
            events.withLock { $0.append("\(event)") }
        }).sync()
        #expect(events.withLock { $0 } == ["connecting", "pulling(received: 0, total: Optional(5))", "pulling(received: 2, total: Optional(5))",
                                           "pulling(received: 4, total: Optional(5))", "pulling(received: 5, total: Optional(5))"])
        await setup.hub.stop()
    }

    /// A sync cut at any byte, either way, loses nothing and applies nothing twice; the next sync
    /// resumes from what the device saved.
    @Test func aSyncCutAtAnyByteResumes() async throws {
        let setup = try await Setup()
        let (a, b) = (setup.a, setup.b)
        let proxy = try await CuttingProxy.start(to: setup.hub.port)
        let viaProxy = HubAddress(host: "127.0.0.1", port: proxy.port)
        var cuts = 0
        var completed = 0
        for round in 0..<180 {
            // Something to push and something to pull every round.
            try await a.set(unit: "muong-lay", item: "II.6.c", field: "staff_count", value: String(round))
            if round % 2 == 0 { try await a.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Vòng \(round).") }
            try await b.set(unit: "muong-lay", item: "II.6.d", field: "initiatives_recognized", value: String(round))
            _ = try await setup.sync(b)
            // Cut the hub → device stream after n bytes on even rounds, device → hub on odd rounds:
            // from inside the TLS handshake (about 1.5 KB each way) to past the end of a round's session.
            let n = (round / 2) * 50
            proxy.arm(hubToDevice: round % 2 == 0 ? n : nil, deviceToHub: round % 2 == 1 ? n : nil)
            do {
                _ = try await SyncClient(store: a, address: viaProxy, token: setup.tokenA, batchSize: 1, responseTimeout: .seconds(10)).sync()
                completed += 1
            } catch let error as SyncError {
                #expect(error.code == .connectionFailed, "round \(round): \(error)")
                cuts += 1
            }
            try await checkInvariants(setup, round: round)
        }
        #expect(cuts > 50 && completed >= 1, "\(cuts) cut, \(completed) complete")
        // A full sync at the end converges.
        let last = try await setup.sync(a)
        let lastOfA = try await a.lastSequence(of: "dev-a")
        #expect(last.confirmed == lastOfA)
        #expect(try await setup.hub.store.confirmed(device: "dev-a") == lastOfA)
        #expect(try setup.hub.store.replica.operations(device: "dev-a").count == Int(lastOfA),
                "the hub holds each of dev-a's operations once")
        let fromB = try setup.hub.store.replica.operations(device: "dev-b").map(\.operation)
        // Every op of dev-b but those a compact first sync may have left out (PROTOCOL.md 11.6).
        let heldFromB = Set(try a.operations(device: "dev-b").map(\.operation))
        #expect(heldFromB.isSubset(of: Set(fromB)) && heldFromB.isSuperset(of: Set(fromB).subtracting(Op.superseded(among: fromB))))
        #expect(try a.dataset(unitIDs: ["muong-lay"]).canonicalJSON() == (try await setup.hub.store.dataset(for: "dev-a").canonicalJSON()))
        await proxy.stop()
        await setup.hub.stop()
    }

    /// What must hold after any sync, cut or not.
    private func checkInvariants(_ setup: Setup, round: Int) async throws {
        let a = setup.a
        let hub = setup.hub.store
        // The device never believes the hub holds more than it does.
        let believed = try await a.syncState().confirmed
        #expect(believed <= (try await hub.confirmed(device: "dev-a")), "round \(round)")
        // Everything before the device's pull cursor that it may see, it holds, but for `set` ops a
        // compact first sync left out (PROTOCOL.md 11.6) because a later one supersedes them.
        let cursor = try await a.syncState().pullCursor
        let held = Set(try a.operations().map(\.operation))
        let log = try hub.replica.operations().map(\.operation)
        let superseded = Op.superseded(among: log)
        let due = try hub.replica.operations().filter { $0.position <= cursor && $0.operation.device != "dev-a" && $0.operation.unit == "muong-lay" }
        #expect(due.allSatisfy { held.contains($0.operation) || superseded.contains($0.operation) },
                "round \(round): the device lacks operations before its cursor \(cursor)")
    }
}

extension Dataset {
    /// The dataset as it would be read for `units` only.
    func restricted(to units: Set<String>) -> Dataset {
        Dataset(plan: plan, units: self.units.filter { units.contains($0.id) }, values: values.filter { units.contains($0.unit) },
                findings: findings.filter { units.contains($0.unit) }, conflicts: conflicts.filter { units.contains($0.unit) })
    }
}

/// A TCP proxy that forwards bytes both ways and cuts the connection after a number of bytes.
final class CuttingProxy: Sendable {
    let port: Int
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, Never>
    private let budgets: Budgets

    final class Budgets: Sendable {
        struct State { var hubToDevice: Int?; var deviceToHub: Int? }
        let state = Mutex(State())
    }

    private init(port: Int, server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, task: Task<Void, Never>, budgets: Budgets) {
        self.port = port
        self.server = server
        self.task = task
        self.budgets = budgets
    }

    /// Cuts the next connection after that many bytes in each direction (nil: no limit).
    func arm(hubToDevice: Int?, deviceToHub: Int?) {
        budgets.state.withLock { $0 = Budgets.State(hubToDevice: hubToDevice, deviceToHub: deviceToHub) }
    }

    static func start(to hubPort: Int) async throws -> CuttingProxy {
        let raw: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0, childChannelInitializer: raw)
        let budgets = Budgets()
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { connections in
                for try await device in connections {
                    let limits = budgets.state.withLock { $0 }
                    guard let hub = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connect(host: "127.0.0.1", port: hubPort, channelInitializer: raw) else {
                        try? await device.channel.close()
                        continue
                    }
                    try? await device.executeThenClose { deviceIn, deviceOut in
                        try await hub.executeThenClose { hubIn, hubOut in
                            await withTaskGroup(of: Void.self) { group in
                                group.addTask { await pipe(deviceIn, to: hubOut, budget: limits.deviceToHub, closing: [device.channel, hub.channel]) }
                                group.addTask { await pipe(hubIn, to: deviceOut, budget: limits.hubToDevice, closing: [device.channel, hub.channel]) }
                            }
                        }
                    }
                }
            }
        }
        return CuttingProxy(port: server.channel.localAddress?.port ?? 0, server: server, task: task, budgets: budgets)
    }

    private static func pipe(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                             budget: Int?, closing channels: [any Channel]) async {
        var remaining = budget ?? Int.max
        do {
            if remaining == 0 { throw CancellationError() }
            for try await var chunk in inbound {
                let allowed = min(chunk.readableBytes, remaining)
                if let slice = chunk.readSlice(length: allowed), slice.readableBytes > 0 { try await outbound.write(slice) }
                remaining -= allowed
                if remaining == 0 { break }
            }
        } catch {}
        // One side ended or the budget is spent: cut both.
        for channel in channels { try? await channel.close() }
    }

    func stop() async {
        try? await server.channel.close()
        await task.value
    }
}

@Suite("SyncClient: transport security (PROTOCOL.md 2.7–2.9, 9.8)")
struct SyncClientSecurityTests {
    @Test("a line without a hub key syncs only when plain TCP is allowed; a malformed line is bad_key")
    func plaintextNeedsConsent() async throws {
        let directory = TemporaryDirectory()
        let store = try makeDevice(directory, "dev-a")
        let error = await syncError { _ = try SyncClient(store: store, address: HubAddress(host: "127.0.0.1", port: 1), token: "secretonly") }
        #expect(error?.code == .notConfigured && error?.message.contains("--insecure-plaintext") == true)
        let client = try SyncClient(store: store, address: HubAddress(host: "127.0.0.1", port: 1), token: "secretonly", allowsPlaintext: true)
        guard case .plaintext = client.security else { Issue.record("not plain TCP"); return }
        let bad = await syncError { _ = try SyncClient(store: store, address: HubAddress(host: "127.0.0.1", port: 1), token: "s@sha256:nope") }
        #expect(bad?.code == .badKey)
        #expect(!FileManager.default.fileExists(atPath: SyncClient.keyFile(of: store)), "no key is made for a lab line")
    }

    @Test("with a hub key, the client makes the device key beside the replica (0600) and keeps it")
    func deviceKeyFile() async throws {
        let hub = try await LiveHub.start()
        let directory = TemporaryDirectory()
        let store = try makeDevice(directory, "dev-a")
        let token = try hub.store.addDevice("dev-a", units: ["muong-lay"], name: nil)
        _ = try await SyncClient(store: store, address: hub.address, token: token).sync()
        let attributes = try FileManager.default.attributesOfItem(atPath: SyncClient.keyFile(of: store))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let key = try #require(try TLSIdentity.load(keyFile: SyncClient.keyFile(of: store)))
        #expect(try await hub.store.device("dev-a")?.key == key.fingerprint, "the hub enrolled the device's key")
        _ = try await SyncClient(store: store, address: hub.address, token: token).sync()
        #expect(try TLSIdentity.load(keyFile: SyncClient.keyFile(of: store))?.fingerprint == key.fingerprint)
        await hub.stop()
    }

    @Test("a hub with another key than the pinned one: hub_key_mismatch naming both, and the hub hears no hello")
    func pinnedKeyMismatch() async throws {
        let hub = try await LiveHub.start()
        let directory = TemporaryDirectory()
        let store = try makeDevice(directory, "dev-a")
        let real = try EnrollmentLine(parsing: hub.store.addDevice("dev-a", units: ["muong-lay"], name: nil))
        let other = TLSIdentity.generate().fingerprint
        let forged = EnrollmentLine(secret: real.secret, hubKey: other).description
        let error = await syncError { _ = try await SyncClient(store: store, address: hub.address, token: forged).sync() }
        #expect(error?.code == .hubKeyMismatch, "\(String(describing: error))")
        #expect(error?.message.contains(other.description) == true && error?.message.contains(hub.store.identity.fingerprint.description) == true)
        #expect(try await hub.store.device("dev-a")?.lastSync == nil, "no handshake reached the hub")
        #expect(try await hub.store.device("dev-a")?.key == nil)
        await hub.stop()
    }

    @Test("a peer that does not speak TLS answers in clear: tls_failed; a plain-TCP lab hub serves a device allowed to speak in clear")
    func tlsFailedAndPlaintextLab() async throws {
        // A plain server that answers the ClientHello with a line of text (as a version 1 hub would).
        final class AnswerInClear: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            typealias OutboundOut = ByteBuffer
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "error {\"code\":\"bad_line\",\"message\":\"the line is not valid UTF-8\"}\n")),
                                      promise: nil)
            }
        }
        let plain = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.pipeline.addHandler(AnswerInClear()) }
            .bind(host: "127.0.0.1", port: 0).get()
        let directory = TemporaryDirectory()
        let hubStore = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan)
        let token = try hubStore.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let store = try makeDevice(directory, "dev-a")
        let error = await syncError {
            _ = try await SyncClient(store: store, address: HubAddress(host: "127.0.0.1", port: plain.localAddress!.port!), token: token).sync()
        }
        #expect(error?.code == .tlsFailed, "\(String(describing: error))")
        try await plain.close()

        let running = try await HubServer(store: hubStore, configuration: .init(host: "127.0.0.1", port: 0, security: .plaintextOnly, limits: .patientHandshake,
                                                                                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))).start()
        let task = Task { try await running.run() }
        let secret = try EnrollmentLine(parsing: token).secret
        try await store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        let summary = try await SyncClient(store: store, address: HubAddress(parsing: running.address), token: secret, allowsPlaintext: true).sync()
        #expect(summary.pushed == 1)
        running.stop()
        _ = await task.result
    }
}

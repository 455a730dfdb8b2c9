import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS
import Synchronization

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The measurements, all in one run, each verified before it is reported.
struct Benchmark {
    /// What a run measures: everything, or one part alone (to iterate on it or profile it).
    enum Part: String, CaseIterable, Sendable {
        case all
        /// The raw SQLite ceilings, on ops generated like the devices' (not recorded).
        case ceiling
        /// The hub merge alone, on generated ops: what `perf record` should see.
        case merge
        /// The bootstrap of a fresh device.
        case bootstrap
        /// Devices recording edits, one transaction each, alone.
        case device
        /// Files of attachments uploaded to a hub: one device, then 20 at once (issue #13).
        case attachments
        /// The dashboard's pages over a hub holding `bootstrapOps` ops (issue #14).
        case dashboard
        /// The end-to-end sync over TLS alone, after the devices recorded their edits (not timed).
        case e2e
    }

    let devices: Int
    let operations: Int
    let historySizes: [Int]
    let bootstrapOps: Int
    let plan: Plan
    let folder: URL

    /// Ops per push, as the devices' sync clients send them in the end-to-end sync.
    static let pushSize = 2000
    /// Ops committed one per transaction by the per-op ceilings.
    static let perOpCount = 20_000
    static let perOpFullCount = 2000

    init(devices: Int, operations: Int, historySizes: [Int], bootstrapOps: Int) throws {
        self.devices = devices
        self.operations = operations
        self.historySizes = historySizes
        self.bootstrapOps = bootstrapOps
        self.plan = try Workload.makePlan()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("inspector-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    var allUnits: [String] { plan.units.map(\.id) }
    func deviceID(_ index: Int) -> String { String(format: "dev-%02d", index + 1) }

    func log(_ text: String) { logProgress(text) }

    func run(_ part: Part = .all) async throws -> Results {
        defer { try? FileManager.default.removeItem(at: folder) }
        var results = Results()
        results.devices = devices
        results.operations = operations
        switch part {
        case .all: try await runAll(into: &results)
        case .ceiling, .merge:
            // Ops as the devices would record them, stamped so that the devices interleave in time.
            log("generating \(devices) × \(operations) ops")
            let perDevice = (0..<devices).map { index in
                var generator = Workload.OpGenerator(device: deviceID(index), seed: index,
                                                     stamp: { [devices] in 1_718_000_000_000 + ($0 - 1) * Int64(devices) + Int64(index) })
                return generator.next(operations)
            }
            let reference = self.reference(perDevice.joined())
            if part == .ceiling {
                try measureCeilings(perDevice: perDevice, reference: reference, into: &results)
            } else {
                // For a profile: the signed merge, as the hub runs it, and the unsigned one beside it.
                try await measureHubMerges(perDevice: perDevice, reference: reference, into: &results)
            }
        case .device:
            log("recording \(devices) × \(operations) ops on device replicas")
            var recording = Duration.zero
            for index in 0..<devices {
                let store = try ReplicaStore.create(at: path("\(deviceID(index)).sqlite"), device: deviceID(index), plan: plan)
                let edits = Workload.edits(device: index, count: operations)
                profiler("enable")
                recording += try ContinuousClock().measure { try record(edits, into: store) }
                profiler("disable")
            }
            results.deviceOpsPerSecond = Double(devices * operations) / seconds(recording)
        case .bootstrap:
            guard bootstrapOps > 0 else { break }
            (results.bootstrapSeconds, results.bootstrapHubPeakRSSMegabytes) = try await bootstrap(count: bootstrapOps)
            results.bootstrapOps = bootstrapOps
        case .attachments:
            try await measureAttachments(into: &results)
        case .dashboard:
            guard bootstrapOps > 0 else { break }
            let hub = try await seedHub(at: path("dashboard-hub.sqlite"), count: bootstrapOps)
            try await measureDashboard(hub: hub, into: &results)
        case .e2e:
            log("recording \(devices) × \(operations) ops on device replicas")
            let stores = try (0..<devices).map { index in
                let store = try ReplicaStore.create(at: path("\(deviceID(index)).sqlite"), device: deviceID(index), plan: plan)
                try record(Workload.edits(device: index, count: operations), into: store)
                return store
            }
            let allOps = try stores.flatMap { try $0.operations().map(\.operation) }
            try await measureEndToEnd(stores: stores, opCount: allOps.count, expected: reference(allOps).canonicalJSON(), into: &results)
        }
        return results
    }

    /// The end-to-end sync: a live hub (a child process) and every device replica syncing
    /// concurrently, twice; the hub's dataset after it must equal the reference model's.
    func measureEndToEnd(stores: [ReplicaStore], opCount: Int, expected: String, into results: inout Results) async throws {
        log("end-to-end sync over loopback")
        let e2eHub = try HubStore.create(at: path("e2e-hub.sqlite"), plan: plan)
        var tokens: [String] = []
        for index in 0..<devices { tokens.append(try e2eHub.addDevice(deviceID(index), units: allUnits, name: nil)) }
        let child = try HubProcess.start(db: path("e2e-hub.sqlite"))
        let address = try HubAddress(parsing: child.address)
        var sent = 0, received = 0, pulled = 0
        profiler("enable")
        let syncing = try await ContinuousClock().measure {
            for _ in 0..<2 {
                let summaries = try await withThrowingTaskGroup(of: SyncClient.Summary.self) { group in
                    for (index, store) in stores.enumerated() {
                        let token = tokens[index]
                        group.addTask { try await SyncClient(store: store, address: address, token: token, batchSize: 2000).sync() }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                for summary in summaries { sent += summary.bytesSent; received += summary.bytesReceived; pulled += summary.pulled }
            }
        }
        profiler("disable")
        log("end to end: the devices pulled \(pulled) ops in all")
        results.hubPeakRSSMegabytes = child.peakRSSMegabytes()
        child.stop()
        results.e2eSeconds = seconds(syncing)
        results.e2eOpsPerSecond = Double(opCount) / seconds(syncing)
        results.wireBytesPerOp = Double(sent) / Double(opCount)
        results.pullBytesPerOp = Double(received) / Double(max(pulled, 1))
        let hubAfter = try HubStore.open(at: path("e2e-hub.sqlite"))
        guard try hubAfter.replica.dataset().canonicalJSON() == expected else { throw BenchmarkError("the e2e hub differs from the reference model") }
    }

    /// The end-to-end sync of section 4 on fresh replicas holding the same ops, with a lab hub over
    /// plain TCP: beside the TLS figure, what TLS costs. Its result is checked like the TLS run's.
    func plaintextEndToEnd(perDevice: [[Op]], expected: String) async throws -> Double {
        let hub = try HubStore.create(at: path("plain-hub.sqlite"), plan: plan)
        var secrets: [String] = []
        var stores: [ReplicaStore] = []
        for (index, ops) in perDevice.enumerated() {
            let line = try hub.addDevice(deviceID(index), units: allUnits, name: nil)
            secrets.append(try EnrollmentLine(parsing: line).secret)
            let store = try ReplicaStore.create(at: path("plain-\(deviceID(index)).sqlite"), device: deviceID(index), plan: plan)
            try store.restoreOwnOperations(ops)
            stores.append(store)
        }
        let child = try HubProcess.start(db: path("plain-hub.sqlite"), plaintext: true)
        let address = try HubAddress(parsing: child.address)
        let syncing = try await ContinuousClock().measure {
            for _ in 0..<2 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, store) in stores.enumerated() {
                        let secret = secrets[index]
                        group.addTask { _ = try await SyncClient(store: store, address: address, token: secret, batchSize: 2000, allowsPlaintext: true).sync() }
                    }
                    try await group.waitForAll()
                }
            }
        }
        child.stop()
        guard try HubStore.open(at: path("plain-hub.sqlite")).replica.dataset().canonicalJSON() == expected else {
            throw BenchmarkError("the plain-TCP e2e hub differs from the reference model")
        }
        return seconds(syncing)
    }

    func runAll(into results: inout Results) async throws {
        // 1. Devices record their edits offline, one transaction per op.
        log("recording \(devices) × \(operations) ops on device replicas")
        var stores: [ReplicaStore] = []
        var recording = Duration.zero
        for index in 0..<devices {
            let store = try ReplicaStore.create(at: path("\(deviceID(index)).sqlite"), device: deviceID(index), plan: plan)
            let edits = Workload.edits(device: index, count: operations)
            recording += try ContinuousClock().measure { try record(edits, into: store) }
            stores.append(store)
        }
        results.deviceOpsPerSecond = Double(devices * operations) / seconds(recording)
        let fullCount = min(operations, Self.perOpFullCount)
        let full = try ReplicaStore.create(at: path("full.sqlite"), device: "dev-full", plan: plan, durability: .full)
        let fullEdits = Workload.edits(device: 999, count: fullCount)
        results.deviceOpsPerSecondFull = Double(fullCount) / seconds(try ContinuousClock().measure { try record(fullEdits, into: full) })

        let perDevice = try stores.map { try $0.operations().map(\.operation) }
        let allOps = Array(perDevice.joined())
        let reference = self.reference(allOps)
        let expected = reference.canonicalJSON()

        // 2. The ceilings, on the same ops.
        try measureCeilings(perDevice: perDevice, reference: reference, into: &results)

        // 3. Hub merge: every device's ops applied durably, as pushes of 2000, signed and unsigned.
        try await measureHubMerges(perDevice: perDevice, reference: reference, into: &results)
        if ProcessInfo.processInfo.environment["BENCH_DETAIL"] != nil {
            let validator = try ReplicaStore.create(at: path("detail.sqlite"), device: "detail", plan: plan)
            let validating = try ContinuousClock().measure { try validator.validate(allOps) }
            log("validation alone: \(Int(Double(allOps.count) / seconds(validating))) ops/s")
            let encoding = ContinuousClock().measure { _ = LineCodec.encode(.push(Message.Push(ops: allOps))) }
            log("encoding alone: \(Int(Double(allOps.count) / seconds(encoding))) ops/s")
            let line = LineCodec.encode(.push(Message.Push(ops: allOps)))
            let decoding = try ContinuousClock().measure { _ = try LineCodec.decode(line.dropLast()) }
            log("decoding alone: \(Int(Double(allOps.count) / seconds(decoding))) ops/s")
            let key = TLSIdentity.generate().privateKey
            let segments = try Self.pushes(perDevice).map { ops in
                (ops, try ChainSegment.make(device: ops[0].device, previous: .genesis, operations: ops, leavingOut: [], signingKey: key))
            }
            let verifying = try ContinuousClock().measure { for (ops, segment) in segments { try segment.verify(carrying: ops) } }
            log("chain verification alone (digests, chain, one signature per push): \(Int(Double(allOps.count) / seconds(verifying))) ops/s")
        }

        // 4. End to end: a live hub (a child process), all devices sync concurrently, twice.
        try await measureEndToEnd(stores: stores, opCount: allOps.count, expected: expected, into: &results)

        // 4b. The same end to end over a lab hub's plain TCP, on fresh copies: what TLS costs.
        log("end-to-end sync over loopback, plain TCP (a lab hub), for the cost of TLS")
        results.e2ePlaintextSeconds = try await plaintextEndToEnd(perDevice: perDevice, expected: expected)
        // Each device holds every op but, at most, those its compact first sync left out (PROTOCOL.md 11.6).
        let leftOut = Op.superseded(among: allOps).count
        for store in stores {
            let held = try store.operationCount()
            guard held <= allOps.count, held >= allOps.count - leftOut, try store.dataset().canonicalJSON() == expected else {
                throw BenchmarkError("device \(store.device) did not converge")
            }
        }

        // 5. Incremental sync of one new op against growing histories.
        for size in historySizes {
            log("incremental sync with \(size) ops held")
            results.incrementalSyncMs.append((size, try await incrementalSync(history: size)))
        }

        // 6. A fresh device joins a scope holding `bootstrapOps` ops.
        if bootstrapOps > 0 {
            (results.bootstrapSeconds, results.bootstrapHubPeakRSSMegabytes) = try await bootstrap(count: bootstrapOps)
            results.bootstrapOps = bootstrapOps
            // 7. The dashboard's pages over the same hub (issue #14).
            try await measureDashboard(hub: try HubStore.open(at: path("bootstrap-hub.sqlite")), into: &results)
        }

        // 7. Files of attachments over loopback.
        try await measureAttachments(into: &results)
    }

    /// The size of each file the attachment benchmark uploads, and how many devices upload at once.
    static let attachmentSize = 20 << 20
    static let attachmentDevices = 20

    /// Files of attachments over loopback, TLS 1.3, to a hub child process (PROTOCOL.md 20): one
    /// device uploading a 20 MiB photo alone, then 20 devices uploading one each at once; MB/s of
    /// file bytes (10⁶ bytes) from the first sync's start to the last one's end, and the hub's peak
    /// resident set. The files are attached before the clock starts (the device's copy is not
    /// timed); every file the hub then holds is hashed again and must be its name.
    func measureAttachments(into results: inout Results) async throws {
        log("attachments: \(Self.attachmentDevices + 1) devices attach a \(Self.attachmentSize >> 20) MiB photo each")
        let hubPath = path("attachments-hub.sqlite")
        let hub = try HubStore.create(at: hubPath, plan: plan)
        var clients: [(store: ReplicaStore, line: String, hash: String)] = []
        for index in 0...Self.attachmentDevices {
            let id = index == 0 ? "solo" : deviceID(index - 1)
            let token = try hub.addDevice(id, units: allUnits, name: nil)
            let store = try ReplicaStore.create(at: path("attachments-\(id).sqlite"), device: id, plan: plan)
            let file = path("photo-\(id).jpg")
            var rng = SystemRandomNumberGenerator()
            var bytes = [UInt8](repeating: 0, count: Self.attachmentSize)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for word in words.indices { words[word] = rng.next() }
            }
            bytes.replaceSubrange(0..<4, with: [0xFF, 0xD8, 0xFF, 0xE0])
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            let finding = try await store.addFinding(unit: allUnits[0], item: nil, kind: .observation, text: "Ảnh hiện trường \(id)")
            let op = try await store.attach(fileAt: file, toFinding: finding.finding!)
            try? FileManager.default.removeItem(atPath: file)
            clients.append((store, token, op.attachment!.hash))
        }
        let child = try HubProcess.start(db: hubPath)
        defer { child.stop() }
        let address = try HubAddress(parsing: child.address)
        func client(_ index: Int) throws -> SyncClient {
            try SyncClient(store: clients[index].store, address: address, token: clients[index].line)
        }
        let solo = try client(0)
        let alone = try await ContinuousClock().measure { _ = try await solo.sync() }
        results.attachmentSingleMegabytesPerSecond = Double(Self.attachmentSize) / 1e6 / seconds(alone)
        log("attachments: one device sent \(Self.attachmentSize >> 20) MiB in \(String(format: "%.2f", seconds(alone))) s")
        let many = try (1...Self.attachmentDevices).map(client)
        let together = try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: SyncClient.Summary.self) { group in
                for sync in many { group.addTask { try await sync.sync() } }
                for try await summary in group where summary.fileBytesSent != Int64(Self.attachmentSize) {
                    throw BenchmarkError("a device sent \(summary.fileBytesSent) bytes of its file, not \(Self.attachmentSize)")
                }
            }
        }
        results.attachmentMegabytesPerSecond = Double(Self.attachmentSize * Self.attachmentDevices) / 1e6 / seconds(together)
        results.attachmentHubPeakRSSMegabytes = child.peakRSSMegabytes()
        log("attachments: \(Self.attachmentDevices) devices sent \(Self.attachmentDevices * Self.attachmentSize >> 20) MiB in \(String(format: "%.2f", seconds(together))) s")
        let files = AttachmentFiles(besideDatabaseAt: hubPath)
        for (_, _, hash) in clients {
            guard try AttachmentFiles.hash(ofFileAt: files.path(of: hash)) == hash else { throw BenchmarkError("the hub's file \(hash) is not its hash") }
        }
    }

    /// The dataset the `MergeState` reference model builds from these ops.
    func reference(_ ops: some Sequence<Op>) -> Dataset {
        var state = MergeState()
        for op in ops { state.apply(op) }
        return state.dataset(plan: plan, units: plan.units)
    }

    /// The ops of each device in pushes of ``pushSize``, device after device, as the hub merge takes them.
    static func pushes(_ perDevice: [[Op]]) -> [[Op]] {
        perDevice.flatMap { ops in stride(from: 0, to: ops.count, by: pushSize).map { Array(ops[$0..<min($0 + pushSize, ops.count)]) } }
    }

    /// The raw SQLite ceilings: the whole workload merged in the hub merge's pushes (FULL), and a
    /// prefix committed one op per transaction (NORMAL, the device's mode, and FULL).
    func measureCeilings(perDevice: [[Op]], reference: Dataset, into results: inout Results) throws {
        log("raw SQLite ceilings")
        results.rawSQLiteOpsPerSecond = try RawSQLite.measure(batches: Self.pushes(perDevice), path: path("raw.sqlite"), synchronous: "FULL",
                                                              pageSize: RawSQLite.mergePageSize, expected: reference)
        let prefix = Array(perDevice.joined().prefix(Self.perOpCount))
        results.rawSQLitePerTransactionOpsPerSecond = try RawSQLite.measure(
            batches: prefix.map { [$0] }, path: path("raw-per-op.sqlite"), synchronous: "NORMAL",
            pageSize: RawSQLite.perOpPageSize, expected: self.reference(prefix))
        let fullPrefix = Array(prefix.prefix(Self.perOpFullCount))
        results.rawSQLitePerTransactionFullOpsPerSecond = try RawSQLite.measure(
            batches: fullPrefix.map { [$0] }, path: path("raw-per-op-full.sqlite"), synchronous: "FULL",
            pageSize: RawSQLite.perOpPageSize, expected: self.reference(fullPrefix))
    }

    /// The hub merge signed (every push verified against its device's chain head and enrolled key)
    /// and, for the cost of verification, unsigned as a device of the previous release pushed;
    /// alternately, best of five each (the spread between two merges of this machine is larger than
    /// the cost).
    func measureHubMerges(perDevice: [[Op]], reference: Dataset, into results: inout Results) async throws {
        var signedRates: [Double] = [], unsignedRates: [Double] = []
        for round in 0..<5 {
            unsignedRates.append(try await measureHubMerge(perDevice: perDevice, reference: reference, signed: false, round: round))
            signedRates.append(try await measureHubMerge(perDevice: perDevice, reference: reference, signed: true, round: round))
        }
        results.hubMergeOpsPerSecond = signedRates.max()
        results.hubMergeUnsignedOpsPerSecond = unsignedRates.max()
    }

    /// The hub merge: every device's ops pushed to a `HubStore` in pushes of ``pushSize``, each
    /// validated and committed durably; the merged hub must equal the reference model.
    ///
    /// - Parameter signed: each device enrolls a key and each push carries its signed chain head
    ///   (PROTOCOL.md 19.3), signed before the clock starts (signing is the device's work); the hub
    ///   verifies every head, as it does for every device over TLS. Unsigned: devices without keys,
    ///   as a lab hub's plain TCP or a device of the previous release pushed.
    func measureHubMerge(perDevice: [[Op]], reference: Dataset, signed: Bool, round: Int) async throws -> Double {
        log("hub merge (\(signed ? "signed heads verified" : "unsigned"))")
        let mergeHub = try HubStore.create(at: path("merge-hub-\(signed ? "signed" : "unsigned")-\(round).sqlite"), plan: plan)
        var keys: [String: TLSIdentity] = [:]
        for index in 0..<perDevice.count {
            let line = try mergeHub.addDevice(deviceID(index), units: allUnits, name: nil)
            guard signed else { continue }
            let identity = TLSIdentity.generate()
            keys[deviceID(index)] = identity
            guard try await mergeHub.authenticate(device: deviceID(index), token: line, key: identity.fingerprint) != nil else {
                throw BenchmarkError("the hub did not enroll the key of \(deviceID(index))")
            }
        }
        let enrolled = Dictionary(uniqueKeysWithValues: try await mergeHub.devices().map { ($0.id, $0) })
        var chains: [String: ChainHash] = [:]
        let pushes = try Self.pushes(perDevice).map { ops -> (Message.Push, HubStore.Device) in
            let device = ops[0].device
            guard let identity = keys[device] else { return (Message.Push(ops: ops), enrolled[device]!) }
            let head = try ChainSegment.make(device: device, previous: chains[device] ?? .genesis, operations: ops, leavingOut: [],
                                             signingKey: identity.privateKey)
            chains[device] = head.head
            return (Message.Push(ops: ops, head: head), enrolled[device]!)
        }
        let scope = Set(allUnits)
        profiler("enable")
        let merging = try await ContinuousClock().measure {
            for (push, device) in pushes {
                _ = try await mergeHub.push(push, from: device, scope: scope)
            }
        }
        profiler("disable")
        guard try mergeHub.replica.dataset().canonicalJSON() == reference.canonicalJSON() else {
            throw BenchmarkError("the merged hub differs from the reference model")
        }
        if signed, try mergeHub.chainStatuses().values.contains(where: { !$0.isComplete }) || mergeHub.chainStatuses().count != perDevice.count {
            throw BenchmarkError("the hub did not verify every device's whole log")
        }
        return Double(pushes.reduce(0) { $0 + $1.0.ops.count }) / seconds(merging)
    }

    func record(_ edits: [Workload.Edit], into store: ReplicaStore) throws {
        for edit in edits {
            switch edit {
            case .set(let unit, let item, let field, let value): try store.set(unit: unit, item: item, field: field, value: value)
            case .finding(let unit, let item, let text): try store.addFinding(unit: unit, item: item, kind: .observation, text: text)
            }
        }
    }

    /// The median time of a sync that pushes one new op, when the hub already holds `history` ops.
    func incrementalSync(history: Int) async throws -> Double {
        let hubPath = path("history-\(history).sqlite")
        let hub = try HubStore.create(at: hubPath, plan: plan)
        _ = try hub.addDevice("archive", units: allUnits, name: nil)
        let token = try hub.addDevice("probe", units: allUnits, name: nil)
        let archive = try await hub.devices().first { $0.id == "archive" }!
        var rng = SplitMix64(seed: UInt64(history))
        let statuses = ["not_started", "in_progress", "done", "not_applicable"]
        var sequence: Int64 = 0
        while sequence < Int64(history) {
            var batch: [Op] = []
            while batch.count < 2000 && sequence < Int64(history) {
                sequence += 1
                let stamp = HLCTimestamp(millis: 1_718_000_000_000 + sequence, counter: 0, device: "archive")
                batch.append(.set(device: "archive", sequence: sequence, timestamp: stamp, unit: "don-vi-\(rng.next() % 12 + 1)",
                                  item: "II.\(rng.next() % 40 + 1)", field: "status", value: statuses[Int(rng.next() % 4)]))
            }
            _ = try await hub.push(Message.Push(ops: batch), from: archive, scope: Set(allUnits))
        }
        let child = try HubProcess.start(db: hubPath)
        defer { child.stop() }
        let probe = try ReplicaStore.create(at: path("probe-\(history).sqlite"), device: "probe", plan: plan)
        // The probe catches up first (untimed): a new device's compact sync brings the state, not the
        // history (PROTOCOL.md 11.6); then its cursor is at the end of the hub's log.
        let client = try SyncClient(store: probe, address: HubAddress(parsing: child.address), token: token)
        _ = try await client.sync()
        guard try await probe.syncState().pullCursor == Int64(history) else { throw BenchmarkError("the probe did not catch up") }
        var times: [Double] = []
        for round in 0..<7 {
            try await probe.set(unit: "don-vi-1", item: "II.1", field: "score", value: String(round))
            let elapsed = try await ContinuousClock().measure {
                let summary = try await client.sync()
                guard summary.pushed == 1, summary.pulled == 0 else { throw BenchmarkError("incremental sync moved \(summary.pushed)/\(summary.pulled) ops") }
            }
            times.append(seconds(elapsed) * 1000)
        }
        guard try HubStore.open(at: hubPath).replica.operationCount() == history + 7 else { throw BenchmarkError("incremental sync lost ops") }
        return times.sorted()[times.count / 2]
    }

    /// The wall time for a fresh device to catch up with a hub that holds `count` ops of many
    /// devices in its scope, and the hub's peak resident set meanwhile.
    ///
    /// The hub is seeded through `HubStore.push` (validated merges of generated ops, rounds of one
    /// push of up to 2000 ops per author, so the log interleaves the authors). The fresh device is
    /// enrolled and synced like any device (`addDevice`, `ReplicaStore.create`, `SyncClient` with
    /// its defaults, a hub child process), so a faster bootstrap path in the library is measured by
    /// this code unchanged. The time runs from the start of the first sync to the end of the sync
    /// after which the device's dataset equals the hub's view of its scope (`dataset(for:)`, what
    /// `hub export --json --device` prints); the comparisons are not timed.
    func bootstrap(count: Int) async throws -> (seconds: Double, hubRSS: Double) {
        let hubPath = path("bootstrap-hub.sqlite")
        let hub = try await seedHub(at: hubPath, count: count)
        let token = try hub.addDevice("fresh", units: allUnits, name: nil)
        let expected = try await hub.dataset(for: "fresh").canonicalJSON()
        let child = try HubProcess.start(db: hubPath)
        defer { child.stop() }
        let device = try ReplicaStore.create(at: path("fresh.sqlite"), device: "fresh", plan: plan)
        let mark = ProgressMark(every: 100_000)
        let client = try SyncClient(store: device, address: HubAddress(parsing: child.address), token: token, progress: { progress in
            guard case .pulling(let received, let total) = progress else { return }
            // The first pulling event comes with the handshake's answer (the hub's count of what it will send).
            if let elapsed = mark.firstEvent() {
                logProgress(String(format: "bootstrap: the handshake answered after %.2f s", seconds(elapsed)))
            }
            if mark.passes(received) {
                logProgress("bootstrap: fresh device pulled \(received) of \(total.map(String.init) ?? "?") ops")
            }
        })
        log("bootstrap: a fresh device syncs")
        var syncing = Duration.zero
        for round in 1...3 {
            let started = ContinuousClock.now
            mark.start(at: started)
            profiler("enable")
            let summary = try await client.sync()
            profiler("disable")
            syncing += ContinuousClock.now - started
            log("bootstrap: sync \(round) pulled \(summary.pulled) ops in \(String(format: "%.1f", seconds(syncing))) s so far")
            if try device.dataset().canonicalJSON() == expected { return (seconds(syncing), child.peakRSSMegabytes()) }
            guard summary.pulled > 0 else { break }
        }
        throw BenchmarkError("the fresh device's dataset differs from the hub's view of its scope")
    }

    /// A hub holding `count` generated ops of up to 100 authors in every unit, merged through
    /// `HubStore.push` (validated, rounds of one push of up to 2000 ops per author, so the log
    /// interleaves the authors).
    func seedHub(at hubPath: String, count: Int) async throws -> HubStore {
        let hub = try HubStore.create(at: hubPath, plan: plan)
        let authorCount = max(1, min(100, count / Self.pushSize))
        let base: Int64 = 1_718_000_000_000
        var authors = (0..<authorCount).map { index in
            Workload.OpGenerator(device: String(format: "author-%03d", index + 1), seed: 1000 + index,
                                 stamp: { base + ($0 - 1) * Int64(authorCount) + Int64(index) })
        }
        for author in authors { _ = try hub.addDevice(author.device, units: allUnits, name: nil) }
        let enrolled = Dictionary(uniqueKeysWithValues: try await hub.devices().map { ($0.id, $0) })
        var remaining = (0..<authorCount).map { count / authorCount + ($0 < count % authorCount ? 1 : 0) }
        let scope = Set(allUnits)
        log("seeding a hub with \(count) ops of \(authorCount) devices")
        var seeded = 0
        let seeding = try await ContinuousClock().measure {
            while seeded < count {
                for index in 0..<authorCount where remaining[index] > 0 {
                    let ops = authors[index].next(min(Self.pushSize, remaining[index]))
                    _ = try await hub.push(Message.Push(ops: ops), from: enrolled[authors[index].device]!, scope: scope)
                    remaining[index] -= ops.count
                    if (seeded + ops.count) / 100_000 > seeded / 100_000 { log("seeded \(seeded + ops.count) ops") }
                    seeded += ops.count
                }
            }
        }
        log("seeded \(seeded) ops in \(String(format: "%.1f", seconds(seeding))) s")
        guard try hub.replica.operationCount() == count else { throw BenchmarkError("the seeded hub holds \(try hub.replica.operationCount()) ops, not \(count)") }
        return hub
    }

    /// The dashboard over a hub child process (`serve-hub --http`) holding the seeded ops: one
    /// viewer signs in over HTTP/1.1 (keep-alive) and asks for the pages in turn; the first page
    /// (the snapshot's first build) is timed apart, then 25 rounds of 8 pages give p50, p95 and the
    /// maximum. Then one op is pushed into the hub's file, as a sync would, and the time until a page
    /// shows the new data is measured (the live update's delay at this size).
    func measureDashboard(hub: HubStore, into results: inout Results) async throws {
        try hub.addOfficeUser(name: "bench", role: .viewer, password: "bench-password")
        let child = try HubProcess.start(db: hub.replica.path, dashboard: true)
        defer { child.stop() }
        let client = try HTTPClient(address: try unwrap(child.dashboard, "the hub printed no dashboard address"))
        let form = try client.request("GET", "/sign-in")
        let csrf = form.hiddenValue("csrf") ?? ""
        let signedIn = try client.request("POST", "/sign-in", form: [("csrf", csrf), ("next", "/"), ("name", "bench"), ("password", "bench-password")])
        guard signedIn.status == 303 else { throw BenchmarkError("the bench account could not sign in: \(signedIn.status)") }
        log("dashboard: the first page (the snapshot's first build over \(bootstrapOps) ops)")
        let cold = try ContinuousClock().measure {
            let page = try client.request("GET", "/")
            guard page.status == 200 else { throw BenchmarkError("the overview answered \(page.status)") }
        }
        results.dashboardFirstPageMs = seconds(cold) * 1000
        let item = plan.items[3].id
        let pages = ["/", "/units/\(allUnits[0])", "/units/\(allUnits[5])", "/conflicts", "/conflicts?page=3", "/devices/author-001",
                     "/units/\(allUnits[1])/findings?item=\(item)&page=2", "/downloads"]
        var times: [Double] = []
        var byPage: [String: [Double]] = [:]
        profiler("enable")
        for _ in 0..<25 {
            for page in pages {
                let started = ContinuousClock.now
                let response = try client.request("GET", page)
                let ms = seconds(ContinuousClock.now - started) * 1000
                times.append(ms)
                byPage[page, default: []].append(ms)
                guard response.status == 200 else { throw BenchmarkError("\(page) answered \(response.status)") }
            }
        }
        profiler("disable")
        for page in pages {
            let sorted = byPage[page, default: []].sorted()
            log(String(format: "dashboard: %@ median %.1f ms, max %.1f ms", page, sorted[sorted.count / 2], sorted.last ?? 0))
        }
        times.sort()
        results.dashboardPages = times.count
        results.dashboardP50Ms = times[times.count / 2]
        results.dashboardP95Ms = times[min(times.count - 1, Int((Double(times.count) * 0.95).rounded(.up)) - 1)]
        results.dashboardMaxMs = times.last
        results.dashboardBytes = try pages.reduce(0) { $0 + (try client.request("GET", $1).body.count) } / pages.count
        // A sync commits one op; how long until a page shows it.
        let author = try unwrap(try await hub.device("author-001"), "no author-001")
        let held = try await hub.replica.lastSequence(of: "author-001")
        let op = Op.findingAdd(device: "author-001", sequence: held + 1, timestamp: HLCTimestamp(millis: hub.now() - 1000, counter: 0, device: "author-001"),
                               unit: allUnits[0], item: plan.items[0].id, kind: .recommendation, text: "Phát hiện mới của bài đo bảng theo dõi")
        _ = try await hub.push(Message.Push(ops: [op]), from: author, scope: Set(allUnits))
        let committed = ContinuousClock.now
        while true {
            let page = try client.request("GET", "/units/\(allUnits[0])/findings?item=\(plan.items[0].id)&page=1000000")
            if page.text.contains("Phát hiện mới của bài đo bảng theo dõi") { break }
            guard ContinuousClock.now - committed < .seconds(120) else { throw BenchmarkError("the new finding never showed") }
            try await Task.sleep(for: .milliseconds(50))
        }
        results.dashboardRefreshSeconds = seconds(ContinuousClock.now - committed)
        results.dashboardHubPeakRSSMegabytes = child.peakRSSMegabytes()
        results.dashboardOps = bootstrapOps
        log(String(format: "dashboard: p95 %.1f ms, a new op shows after %.2f s", results.dashboardP95Ms ?? 0, results.dashboardRefreshSeconds ?? 0))
    }
}

/// A hub served by a child process running `inspector-bench serve-hub`.
final class HubProcess {
    let process: Process
    let address: String
    /// HOST:PORT of its dashboard, when started with one.
    let dashboard: String?

    /// - Parameters:
    ///   - plaintext: a lab hub that also serves plain TCP (to measure what TLS costs).
    ///   - dashboard: also serve the dashboard on a free port.
    static func start(db: String, plaintext: Bool = false, dashboard: Bool = false) throws -> HubProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve-hub", "--db", db] + (plaintext ? ["--insecure-plaintext"] : []) + (dashboard ? ["--http", "127.0.0.1:0"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var text = ""
        var address: String?
        var dashboardAddress: String?
        while address == nil || (dashboard && dashboardAddress == nil) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchmarkError("the hub process did not start") }
            text += String(decoding: chunk, as: UTF8.self)
            for line in text.split(separator: "\n") {
                if line.hasPrefix("listening on ") { address = String(line.dropFirst("listening on ".count)) }
                if line.hasPrefix("dashboard on http://") { dashboardAddress = String(line.dropFirst("dashboard on http://".count)) }
            }
        }
        return HubProcess(process: process, address: address!, dashboard: dashboardAddress)
    }

    init(process: Process, address: String, dashboard: String? = nil) {
        self.process = process
        self.address = address
        self.dashboard = dashboard
    }

    /// VmHWM of the child: its peak resident set.
    func peakRSSMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kilobytes / 1024
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// Sends `perf record` a command (`enable`, `disable`) through the control FIFO named by
/// `BENCH_PERF_CTL`, so that a profile started disabled covers only the timed hub merge:
///
/// ```sh
/// mkfifo /tmp/perf.ctl
/// BENCH_PERF_CTL=/tmp/perf.ctl perf record -g --control fifo:/tmp/perf.ctl -D -1 -- inspector-bench --only merge
/// ```
func profiler(_ command: String) {
    guard let path = ProcessInfo.processInfo.environment["BENCH_PERF_CTL"], let fifo = FileHandle(forWritingAtPath: path) else { return }
    fifo.write(Data("\(command)\n".utf8))
    try? fifo.close()
}

/// Writes a line of progress to standard error.
func logProgress(_ text: String) { FileHandle.standardError.write(Data("· \(text)\n".utf8)) }

/// Tells when a growing count passes the next multiple of a step, from any thread.
final class ProgressMark: Sendable {
    let step: Int
    private let next: Mutex<Int>
    /// When the current sync started, until its first event is seen.
    private let started = Mutex<ContinuousClock.Instant?>(nil)

    init(every step: Int) {
        self.step = step
        next = Mutex(step)
    }

    /// Marks the start of a sync: the next ``firstEvent()`` returns the time since.
    func start(at instant: ContinuousClock.Instant) {
        started.withLock { $0 = instant }
    }

    /// The time since ``start(at:)``, for the first event after it only.
    func firstEvent() -> Duration? {
        started.withLock { started in
            defer { started = nil }
            return started.map { ContinuousClock.now - $0 }
        }
    }

    /// Whether `count` reached the next mark (which then moves past it).
    func passes(_ count: Int) -> Bool {
        next.withLock { next in
            guard count >= next else { return false }
            next = (count / step + 1) * step
            return true
        }
    }
}

import Crypto
import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Synchronization
import Testing
@testable import InspectorTestSupport

/// A file of `count` bytes that sniffs as a JPEG, from a seed.
func photoBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    for (index, byte) in [UInt8]([0xFF, 0xD8, 0xFF, 0xE0]).enumerated() where index < count { bytes[index] = byte }
    return bytes
}

/// Files of attachments through a live hub (PROTOCOL.md 20): sent after the ops, resumed after a
/// cut, sent once, fetched by policy or on demand.
@Suite("SyncClient: attachments")
struct SyncClientAttachmentsTests {
    @Test func aFileReachesTheHubAfterTheOpsAndAnotherDeviceFetchesIt() async throws {
        let setup = try await SyncClientTests.Setup()
        let (a, b) = (setup.a, setup.b)
        let bytes = photoBytes(3 << 20 + 12_345)
        let source = setup.directory.path("Biên bản kiểm tra.jpg")
        try Data(bytes).write(to: URL(fileURLWithPath: source))
        let finding = try await a.addFinding(unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "Thiếu biên bản").finding!
        let op = try await a.attach(fileAt: source, toFinding: finding)
        try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        let hash = try #require(op.attachment?.hash)

        let phases = Mutex<[String]>([])
        let client = try SyncClient(store: a, responseTimeout: .seconds(20), progress: { progress in
            switch progress {
            case .pushing: phases.withLock { if $0.last != "push" { $0.append("push") } }
            case .pulling: phases.withLock { if $0.last != "pull" { $0.append("pull") } }
            case .uploading(let bytes, let total):
                #expect(total == 3 << 20 + 12_345 && bytes <= total)
                phases.withLock { if $0.last != "upload" { $0.append("upload") } }
            case .downloading: phases.withLock { $0.append("download") }
            case .connecting: break
            }
        })
        let summary = try await client.sync()
        #expect(phases.withLock { $0 } == ["push", "pull", "upload"], "the checklist first, then the file")
        #expect(summary.pushed == 3 && summary.filesSent == 1 && summary.fileBytesSent == Int64(bytes.count))
        let atHub = try Data(contentsOf: URL(fileURLWithPath: setup.hub.store.attachmentFiles.path(of: hash)))
        #expect(atHub == Data(bytes), "byte-identical at the hub")
        let state = try await a.syncState()
        #expect(state.unconfirmedFiles.isEmpty)
        let again = try await setup.sync(a)
        #expect(again.filesSent == 0 && again.fileBytesSent == 0, "nothing is sent twice")

        // dev-b (policy own) gets the op but not the file; on demand it fetches it.
        let first = try await setup.sync(b)
        #expect(first.filesFetched == 0 && !b.attachmentFiles.holds(hash))
        try b.requestAttachment(String(hash.prefix(10)))
        let fetched = try await setup.sync(b)
        #expect(fetched.filesFetched == 1 && fetched.fileBytesFetched == Int64(bytes.count))
        let atB = try Data(contentsOf: URL(fileURLWithPath: b.attachmentFiles.path(of: hash)))
        #expect(atB == Data(bytes), "byte-identical at the other device")
        #expect(try await b.filesToFetch().isEmpty)

        // dev-b attaches the same file to its own finding: the hub holds it, not a byte is sent.
        let own = try await b.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Cùng ảnh").finding!
        try await b.attach(fileAt: source, toFinding: own)
        let once = try await setup.sync(b)
        #expect(once.filesSent == 1 && once.fileBytesSent == 0, "the same file is sent once")
        await setup.hub.stop()
    }

    @Test func aDeviceWithPolicyAllFetchesEveryFileInItsScope() async throws {
        let setup = try await SyncClientTests.Setup()
        let (a, b) = (setup.a, setup.b)
        try b.setAttachmentPolicy(.all)
        var hashes: Set<String> = []
        for seed in 1...3 {
            let source = setup.directory.path("\(seed).jpg")
            try Data(photoBytes(100_000 * seed, seed: UInt64(seed))).write(to: URL(fileURLWithPath: source))
            let finding = try await a.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Ảnh \(seed)").finding!
            hashes.insert(try #require(try await a.attach(fileAt: source, toFinding: finding).attachment?.hash))
        }
        _ = try await setup.sync(a)
        let summary = try await setup.sync(b)
        #expect(summary.filesFetched == 3 && Set(b.attachmentFiles.heldHashes()) == hashes)
        await setup.hub.stop()
    }

    @Test func anUploadCutMidwayResumesFromWhatTheHubAcknowledged() async throws {
        let setup = try await SyncClientTests.Setup()
        let a = setup.a
        let bytes = photoBytes(4 << 20, seed: 7)
        let source = setup.directory.path("large.jpg")
        try Data(bytes).write(to: URL(fileURLWithPath: source))
        let finding = try await a.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Tệp lớn").finding!
        let hash = try #require(try await a.attach(fileAt: source, toFinding: finding).attachment?.hash)
        let proxy = try await CuttingProxy.start(to: setup.hub.port)
        let viaProxy = HubAddress(host: "127.0.0.1", port: proxy.port)
        let files = setup.hub.store.attachmentFiles
        var held: Int64 = 0
        var cuts = 0
        for budget in [40_000, 700_000, 900_000, 1_300_000, 600_000] {
            proxy.arm(hubToDevice: nil, deviceToHub: budget)
            do {
                _ = try await SyncClient(store: a, address: viaProxy, token: setup.tokenA, responseTimeout: .seconds(10)).sync()
            } catch let error as SyncError {
                #expect(error.code == .connectionFailed, "\(error)")
                cuts += 1
            }
            let now = files.durableLength(of: hash, size: Int64(bytes.count))
            #expect(now >= held, "the hub never loses what it acknowledged (\(held) → \(now))")
            held = now
        }
        #expect(cuts == 5 && held > 0 && held < Int64(bytes.count))
        let finish = try await setup.sync(a)
        // The hub may have stored a cut session's last chunk after `held` was read: at most that was sent.
        #expect(finish.filesSent == 1 && finish.fileBytesSent <= Int64(bytes.count) - held, "only what the hub lacked is sent")
        let atHub = try Data(contentsOf: URL(fileURLWithPath: files.path(of: hash)))
        #expect(atHub == Data(bytes))
        await proxy.stop()
        await setup.hub.stop()
    }

    @Test func chunksGrowOnAFastLinkAndShrinkOnASlowOne() {
        var pacing = ChunkPacing()
        var now = ContinuousClock.now
        #expect(pacing.chunkBytes == 64 << 10)
        for expected in [128 << 10, 256 << 10, 256 << 10] {
            now += .milliseconds(500)
            pacing.acknowledged(at: now)
            #expect(pacing.chunkBytes == expected)
        }
        now += .seconds(5)
        pacing.acknowledged(at: now)
        #expect(pacing.chunkBytes == 256 << 10, "between 2 and 10 s: unchanged")
        for _ in 0..<10 {
            now += .seconds(11)
            pacing.acknowledged(at: now)
        }
        #expect(pacing.chunkBytes == 8 << 10, "never below 8 KiB")
    }
}

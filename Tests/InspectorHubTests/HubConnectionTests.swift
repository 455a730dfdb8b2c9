import Crypto
import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import NIOCore
import Testing
@testable import InspectorTestSupport

/// The hub's per-connection logic, driven over real TCP connections: limits, timeouts, revocation.
@Suite("HubConnection over TCP")
struct HubConnectionTests {
    /// A hub with dev-a (muong-lay) and dev-b (muong-lay), started with `limits`.
    func start(limits: ProtocolLimits = .v1, revocationCheckInterval: Double = 5) async throws
        -> (LiveHub, tokenA: String, tokenB: String) {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let tokenA = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let tokenB = try hub.addDevice("dev-b", units: ["muong-lay"], name: nil)
        let live = try await LiveHub.start(hub, in: directory, limits: limits, revocationCheckInterval: revocationCheckInterval)
        return (live, tokenA, tokenB)
    }

    @Test func theLimitsOfVersionOne() {
        let limits = ProtocolLimits.v1
        #expect(limits.maximumLineBytes == 1_048_576)
        #expect(limits.maximumUnauthenticatedLineBytes == 16_384)
        #expect(limits.maximumBatchCount == 2000)
        #expect(limits.authenticationTimeout == 10)
        #expect(limits.idleTimeout == 120)
        #expect(ProtocolLimits.protocolVersion == 2)
        #expect(HubServer.Configuration(host: "0.0.0.0", port: 7000, security: .plaintextOnly).revocationCheckInterval <= 60,
                "a revoked device's live connection is cut within 60 s")
    }

    @Test func theHandshakeRecordsTheSyncAndTheDevicesClockOffset() async throws {
        let (live, tokenA, _) = try await start()
        try await RawClient.with(port: live.port) { session in
            try await session.send(.hello(Message.Hello(device: "dev-a", token: tokenA, time: fixedHubTime - 90_000, planDigest: builtInPlan.digest)))
            guard case .welcome(let welcome) = await session.message() else { Issue.record("no welcome"); return }
            #expect(welcome.time == fixedHubTime)
            #expect(welcome.plan == nil)
            #expect(welcome.planDigest == builtInPlan.digest)
        }
        let device = try await live.store.device("dev-a")
        #expect(device?.lastSync == fixedHubTime)
        #expect(device?.clockOffset == -90_000, "the hub records device time minus hub time, one way")
        await live.stop()
    }

    @Test func aConnectionThatDoesNotAuthenticateInTimeIsClosed() async throws {
        let (live, _, _) = try await start(limits: ProtocolLimits(authenticationTimeout: 1))
        let started = ContinuousClock.now
        try await RawClient.with(port: live.port) { session in
            try await session.outbound.write(.init(string: "hello {\"vers"))  // half a line, never finished
            let answer = await session.next(timeout: .seconds(120))
            #expect(answer == .line(Array("error {\"code\":\"timeout\",\"message\":\"no handshake within 1 s\"}".utf8)))
            #expect(await session.next(timeout: .seconds(10)) == .closed)
        }
        // A generous upper bound (it only has to show the deadline closes the connection): the whole
        // suite runs in parallel on two cores in CI, where a watchdog can wait its turn for a while.
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(120))
        await live.stop()
    }

    @Test func anIdleConnectionIsClosedAndActivityKeepsItOpen() async throws {
        let (live, tokenA, _) = try await start(limits: ProtocolLimits(idleTimeout: 10))
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            // Talking every 300 ms for over 2 s keeps the connection (idle limit 10 s, with room for a loaded machine).
            // The hub's idle clock restarts when it reads a line, which is after the client sent it:
            // measure the silence from the last send, not from the last answer.
            var silentSince = ContinuousClock.now
            for _ in 0..<7 {
                try await Task.sleep(for: .milliseconds(300))
                silentSince = ContinuousClock.now
                try await session.send(.pull(Message.Pull(cursor: 0)))
                guard case .ops = await session.message() else { Issue.record("no ops"); return }
            }
            let answer = await session.next(timeout: .seconds(120))
            #expect(answer == .line(Array("error {\"code\":\"timeout\",\"message\":\"idle for 10 s\"}".utf8)))
            #expect(await session.next(timeout: .seconds(20)) == .closed)
            #expect(ContinuousClock.now - silentSince >= .milliseconds(9900))
        }
        await live.stop()
    }

    @Test func revokingADeviceCutsItsLiveConnection() async throws {
        let (live, tokenA, tokenB) = try await start(revocationCheckInterval: 0.2)
        try await RawClient.with(port: live.port) { other in
            try await other.send(hello("dev-b", token: tokenB))
            guard case .welcome = await other.message() else { Issue.record("no welcome for dev-b"); return }
            try await RawClient.with(port: live.port) { session in
                try await session.send(hello("dev-a", token: tokenA))
                guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
                try live.store.revokeDevice("dev-a")
                let revokedAt = ContinuousClock.now
                let answer = await session.next(timeout: .seconds(60))
                #expect(answer == .line(Array("error {\"code\":\"unauthorized\",\"message\":\"this device has been revoked\"}".utf8)))
                #expect(await session.next(timeout: .seconds(10)) == .closed)
                #expect(ContinuousClock.now - revokedAt < .seconds(60), "within the 60 s the spec allows")
            }
            // dev-b's connection is not affected.
            try await other.send(.pull(Message.Pull(cursor: 0)))
            guard case .ops = await other.message() else { Issue.record("dev-b lost its connection"); return }
        }
        await live.stop()
    }

    @Test func aPushOverTheBatchCapIsRefusedAndTheSessionGoesOn() async throws {
        let (live, tokenA, _) = try await start()
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            let ops = (1...2001).map { setOp("dev-a", Int64($0)) }
            try await session.send(.push(Message.Push(ops: ops)))
            let refused = await session.message()
            #expect(refused == .error(ProtocolError(.batchTooLarge, "a push may hold at most 2000 operations")))
            try await session.send(.push(Message.Push(ops: Array(ops.prefix(2000)))))
            #expect(await session.message() == .pushed(Message.Pushed(confirmed: 2000, applied: 2000, duplicates: 0)))
        }
        #expect(try live.store.replica.operationCount() == 2000)
        await live.stop()
    }

    /// Files over a session (PROTOCOL.md 4.9–4.13): a chunk of a file not offered in the session,
    /// a fetch outside the file or of a file no op in scope names are refused, and the session goes
    /// on; a fetch is answered in chunks of the size asked for.
    @Test func fileRequestsAreCheckedAndAFetchComesInTheChunksAskedFor() async throws {
        let (live, tokenA, _) = try await start()
        var bytes = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        bytes[0] = 0xFF; bytes[1] = 0xD8; bytes[2] = 0xFF
        let hash = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        let t = fixedHubTime - 60_000
        let ops = [
            Op.findingAdd(device: "dev-a", sequence: 1, timestamp: ts(t, 0, "dev-a"), unit: "muong-lay", item: nil, kind: .observation, text: "Ảnh"),
            Op.attachmentAdd(device: "dev-a", sequence: 2, timestamp: ts(t + 1, 0, "dev-a"), unit: "muong-lay", item: nil, finding: "dev-a/1",
                             descriptor: try AttachmentDescriptor(hash: hash, size: 3000, type: .jpeg, name: "ảnh.jpg")),
        ]
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            try await session.send(.push(Message.Push(ops: ops)))
            guard case .pushed = await session.message() else { Issue.record("not pushed"); return }
            // A chunk before its offer.
            try await session.send(.chunk(Message.Chunk(hash: hash, offset: 0, data: Array(bytes[0..<1000]))))
            guard case .error(let unoffered) = await session.message() else { Issue.record("a chunk not offered was taken"); return }
            #expect(unoffered.code == .badChunk)
            // Not held yet: no fetch.
            try await session.send(.fetch(Message.Fetch(hash: hash, offset: 0)))
            guard case .error(let notHeld) = await session.message() else { Issue.record("a file not held was sent"); return }
            #expect(notHeld.code == .unknownAttachment)
            try await session.send(.offer(Message.Offer(hash: hash, size: 3000)))
            #expect(await session.message() == .want(Message.FileState(hash: hash, have: 0)))
            try await session.send(.chunk(Message.Chunk(hash: hash, offset: 0, data: bytes)))
            #expect(await session.message() == .stored(Message.FileState(hash: hash, have: 3000)))
            for offset in [Int64(3000), -1, .max] {
                try await session.send(.fetch(Message.Fetch(hash: hash, offset: offset)))
                guard case .error(let outside) = await session.message() else { Issue.record("a fetch at \(offset) was served"); return }
                #expect(outside.code == .badChunk, "\(offset)")
            }
            try await session.send(.fetch(Message.Fetch(hash: String(repeating: "0", count: 64), offset: 0)))
            guard case .error(let unknown) = await session.message() else { Issue.record("an unknown file was sent"); return }
            #expect(unknown.code == .unknownAttachment)
            try await session.send(.fetch(Message.Fetch(hash: hash, offset: 100, chunkBytes: 1024)))
            var received: [UInt8] = []
            while received.count < 2900 {
                guard case .chunk(let chunk) = await session.message() else { Issue.record("no chunk"); return }
                #expect(chunk.offset == 100 + Int64(received.count) && chunk.data.count == min(1024, 2900 - received.count))
                received += chunk.data
            }
            #expect(received == Array(bytes[100...]))
        }
        await live.stop()
    }

    @Test func aLineOverOneMebibyteBeforeTheHandshakeIsRefused() async throws {
        let (live, _, _) = try await start()
        try await RawClient.with(port: live.port) { session in
            try await session.send(Array("hello {\"pad\":\"".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 1_100_000) + Array("\"}".utf8))
            let answer = await session.next()
            guard case .line(let bytes) = answer, let message = try? LineCodec.decode(bytes) else {
                Issue.record("expected an error line, got \(answer)")
                return
            }
            #expect(errorCode(message) == "line_too_long")
        }
        await live.stop()
    }

    /// PROTOCOL.md 2.4: a line of more than 1,048,576 bytes (without its `\n`) is refused with
    /// `line_too_long`, and the hub closes. NIO's `ByteToMessageHandler(maximumBufferSize:)` only
    /// fails when the *unterminated* part of the buffer exceeds the cap, so a line whose last bytes
    /// arrive together with its `\n` reaches the hub whole: HubConnection checks every framed line.
    @Test func aLineOneByteOverTheLimitIsRefused() async throws {
        let (live, tokenA, _) = try await start()
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            let head = Array("pull {\"cursor\":0,\"pad\":\"".utf8), tail = Array("\"}".utf8)
            let line = head + [UInt8](repeating: UInt8(ascii: "x"), count: 1_048_577 - head.count - tail.count) + tail
            #expect(line.count == 1_048_577)
            // All but the last bytes first (the hub buffers them: under the cap, no newline yet),
            // then the last bytes with the newline.
            try await session.outbound.write(ByteBuffer(bytes: line.dropLast(8)))
            try await Task.sleep(for: .milliseconds(300))
            try await session.outbound.write(ByteBuffer(bytes: Array(line.suffix(8)) + [0x0A]))
            let answer = await session.next()
            guard case .line(let bytes) = answer else { Issue.record("expected an answer, got \(answer)"); return }
            #expect(errorCode(try? LineCodec.decode(bytes)) == "line_too_long")
            #expect(await session.next(timeout: .seconds(20)) == .closed, "line_too_long is fatal")
        }
        await live.stop()
    }

    /// PROTOCOL.md: the limit applies to every line, both ways; a device reads lines of at most
    /// 1 MiB (`SyncClient` configures its channel so). The hub fills `ops` batches up to a byte budget.
    @Test func theHubNeverSendsALineOverOneMebibyte() async throws {
        let (live, tokenA, _) = try await start()
        // 200 findings of 4000 characters of 3 UTF-8 bytes each: 2.4 MB of text, all in scope.
        let text = String(repeating: "ệ", count: 4000)
        let ops = (1...200).map { n in
            Op.findingAdd(device: "dev-b", sequence: Int64(n), timestamp: ts(1_718_845_320_000 + Int64(n), 0, "dev-b"),
                          unit: "muong-lay", item: nil, kind: .observation, text: text)
        }
        try live.store.replica.merge(ops)
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            var cursor: Int64 = 0
            var received: [Op] = []
            for _ in 0..<50 {
                try await session.send(.pull(Message.Pull(cursor: cursor, limit: 1000)))
                let answer = await session.next(timeout: .seconds(30))
                guard case .line(let bytes) = answer else { Issue.record("expected an ops line, got \(answer)"); return }
                #expect(bytes.count <= 1_048_576, "the ops line is \(bytes.count) bytes")
                guard case .ops(let batch) = try LineCodec.decode(bytes) else { Issue.record("expected ops"); return }
                received += batch.ops
                cursor = batch.cursor
                if !batch.more { break }
            }
            #expect(received == ops, "paging by bytes loses and repeats nothing")
            #expect(cursor == 200)
        }
        await live.stop()
    }

    /// A sub-unit added at the hub while a device is connected: the hub recomputes the session's
    /// scope for every push and pull, so the open session's pull already carries the sub-unit's ops
    /// (its cursor never moves past them), and the next session lists the sub-unit in its scope.
    @Test func aSubUnitAddedDuringASessionIsNotLostToThatDevice() async throws {
        let (live, tokenA, tokenB) = try await start()
        let op = setOp("dev-b", 1, unit: "muong-lay.na-lay")
        var cursor: Int64 = 0
        var first: [Op] = []
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            try live.store.addUnit(Plan.Unit(id: "muong-lay.na-lay", name: "Phường Na Lay", kind: .direct, parent: "muong-lay"))
            try await RawClient.with(port: live.port) { other in
                try await other.send(hello("dev-b", token: tokenB))
                guard case .welcome = await other.message() else { Issue.record("no welcome for dev-b"); return }
                try await other.send(.push(Message.Push(ops: [op])))
                #expect(await other.message() == .pushed(Message.Pushed(confirmed: 1, applied: 1, duplicates: 0)))
            }
            try await session.send(.pull(Message.Pull(cursor: 0)))
            guard case .ops(let batch) = await session.message() else { Issue.record("no ops"); return }
            cursor = batch.cursor
            first = batch.ops
            #expect(batch.ops == [op], "the open session's pull includes the sub-unit added since its handshake")
            // A push on the new sub-unit in the same session is in scope too.
            try await session.send(.push(Message.Push(ops: [setOp("dev-a", 1, unit: "muong-lay.na-lay")])))
            #expect(await session.message() == .pushed(Message.Pushed(confirmed: 1, applied: 1, duplicates: 0)))
        }
        // The next session pulls from the stored cursor.
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome(let welcome) = await session.message() else { Issue.record("no welcome"); return }
            #expect(welcome.scope == ["muong-lay", "muong-lay.na-lay"])
            try await session.send(.pull(Message.Pull(cursor: cursor)))
            guard case .ops(let later) = await session.message() else { Issue.record("no ops"); return }
            // Whichever session carried it, dev-a receives dev-b's op on the new sub-unit, once.
            #expect(first.contains(op) || later.ops.contains(op), "dev-a never receives dev-b's op on the new sub-unit")
            #expect(!(first.contains(op) && later.ops.contains(op)), "the cursor of the first session covers the op")
            #expect(cursor == 1 && later.ops.isEmpty && later.cursor == 2)
        }
        await live.stop()
    }

    @Test func stoppingTheServerClosesLiveConnections() async throws {
        let (live, tokenA, _) = try await start()
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            #expect(live.running.connectionCount == 1)
            await live.stop()
            #expect(await session.next(timeout: .seconds(20)) == .closed)
        }
    }

    @Test func twoDevicesExchangeOperationsThroughTheHub() async throws {
        let (live, tokenA, tokenB) = try await start()
        try await RawClient.with(port: live.port) { a in
            try await RawClient.with(port: live.port) { b in
                try await a.send(hello("dev-a", token: tokenA))
                try await b.send(hello("dev-b", token: tokenB))
                guard case .welcome = await a.message(), case .welcome = await b.message() else { Issue.record("no welcome"); return }
                try await a.send(.push(Message.Push(ops: [setOp("dev-a", 1)])))
                #expect(await a.message() == .pushed(Message.Pushed(confirmed: 1, applied: 1, duplicates: 0)))
                try await b.send(.pull(Message.Pull(cursor: 0)))
                #expect(await b.message() == .ops(Message.OpsBatch(ops: [setOp("dev-a", 1)], cursor: 1, more: false)))
                try await b.send(.bye)
                #expect(await b.message() == .bye)
                #expect(await b.next(timeout: .seconds(20)) == .closed)
            }
            try await a.send(.pull(Message.Pull(cursor: 0)))
            #expect(await a.message() == .ops(Message.OpsBatch(ops: [], cursor: 1, more: false)))
        }
        await live.stop()
    }
}

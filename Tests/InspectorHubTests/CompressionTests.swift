import CompressNIO
import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import NIOCore
import Testing
@testable import InspectorTestSupport

/// Negotiated stream compression (PROTOCOL.md section 18), against a live hub, with a test client
/// that wraps its raw socket in its own zlib raw DEFLATE streams (DeflateStreams.swift).
@Suite("Stream compression, hub side")
struct CompressionTests {
    /// A hub with dev-a and dev-b on muong-lay; dev-b already has `held` findings at the hub.
    func start(allowsCompression: Bool = true, held: Int = 0) async throws -> (LiveHub, tokenA: String) {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let tokenA = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        _ = try hub.addDevice("dev-b", units: ["muong-lay"], name: nil)
        if held > 0 { try hub.replica.merge(findings("dev-b", held)) }
        let live = try await LiveHub.start(hub, in: directory, allowsCompression: allowsCompression)
        return (live, tokenA)
    }

    /// Findings with the repetitive text of real reports.
    func findings(_ device: String, _ count: Int) -> [Op] {
        (1...count).map { n in
            Op.findingAdd(device: device, sequence: Int64(n), timestamp: ts(1_718_845_320_000 + Int64(n), 0, device),
                          unit: "muong-lay", item: "II.5", kind: .shortcoming,
                          text: "Chưa trích lập quỹ thi đua, khen thưởng theo quy định (lần \(n)); đơn vị cần bổ sung quyết định trích lập quỹ.")
        }
    }

    /// The compression-offer vector, by hand: hello offers deflate, the welcome (plain) chooses it,
    /// then push and pull travel in raw DEFLATE streams, each message ending with a sync flush.
    @Test func aDeviceThatOffersDeflatePushesAndPullsThroughRawDeflateStreams() async throws {
        let (live, tokenA) = try await start(held: 40)
        let mine = findings("dev-a", 30)
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA, compress: ["deflate"]))
            guard case .line(let raw) = await session.next() else { Issue.record("no welcome"); return }
            // The welcome itself is a plain line, its compress key after plan_digest.
            let text = String(decoding: raw, as: UTF8.self)
            #expect(text.hasPrefix("welcome {\"version\":2,"))
            #expect(text.hasSuffix("\"plan_digest\":\"\(builtInPlan.digest)\",\"compress\":\"deflate\"}"))
            guard case .welcome(let welcome) = try LineCodec.decode(raw) else { Issue.record("not a welcome"); return }
            #expect(welcome.compress == "deflate")

            let tap = try await session.enableCompression()
            try await session.send(.push(Message.Push(ops: mine)))
            #expect(await session.message() == .pushed(Message.Pushed(confirmed: 30, applied: 30, duplicates: 0)))
            #expect(tap.rawIn.suffix(4).elementsEqual(TestDeflate.syncFlushMarker), "the hub flushes after each message")

            var pulled: [Op] = []
            var cursor: Int64 = 0
            while true {
                try await session.send(.pull(Message.Pull(cursor: cursor, limit: 15)))
                guard case .ops(let batch) = await session.message() else { Issue.record("no ops"); return }
                #expect(tap.rawIn.suffix(4).elementsEqual(TestDeflate.syncFlushMarker))
                pulled += batch.ops
                cursor = batch.cursor
                if !batch.more { break }
            }
            #expect(pulled == findings("dev-b", 40))
            #expect(cursor == 70)
            try await session.send(.bye)
            #expect(await session.message() == .bye)
            #expect(await session.next(timeout: .seconds(20)) == .closed)

            // What went over the socket after the welcome was compressed, both ways.
            let state = tap.state.withLock { $0 }
            #expect(state.failure == nil)
            #expect(state.rawIn.firstRange(of: Array("\"ops\"".utf8)) == nil, "the hub's answers are not plain lines")
            #expect(state.rawIn.count * 3 < state.inflated, "\(state.rawIn.count) bytes carried \(state.inflated)")
            #expect(state.rawOut * 3 < state.plainOut, "\(state.rawOut) bytes carried \(state.plainOut)")
            #expect(state.writes.allSatisfy { $0.suffix(4).elementsEqual(TestDeflate.syncFlushMarker) })
        }
        #expect(try live.store.replica.operations(device: "dev-a").map(\.operation) == mine)
        #expect(try await live.store.confirmed(device: "dev-a") == 30)
        await live.stop()
    }

    @Test func unknownNamesAreIgnoredAndDeflateIsChosenWhereverItIsListed() async throws {
        let (live, tokenA) = try await start()
        for (offer, chosen) in [(["x-zstd"], nil), (["x-zstd", "deflate"], "deflate"), (["deflate", "x-zstd"], "deflate"), ([String](), nil)] as [([String], String?)] {
            try await RawClient.with(port: live.port) { session in
                try await session.send(hello("dev-a", token: tokenA, compress: offer))
                guard case .welcome(let welcome) = await session.message() else { Issue.record("no welcome for \(offer)"); return }
                #expect(welcome.compress == chosen, "offer \(offer)")
                if chosen != nil { try await session.enableCompression() }
                try await session.send(.pull(Message.Pull(cursor: 0)))
                #expect(await session.message() == .ops(Message.OpsBatch(ops: [], cursor: 0, more: false)), "offer \(offer)")
            }
        }
        await live.stop()
    }

    /// A hub configured without compression answers without `compress`, and the session is plain.
    @Test func aHubThatDoesNotAllowCompressionAnswersWithoutIt() async throws {
        let (live, tokenA) = try await start(allowsCompression: false, held: 3)
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA, compress: ["deflate"]))
            guard case .line(let raw) = await session.next() else { Issue.record("no welcome"); return }
            #expect(raw.firstRange(of: Array("compress".utf8)) == nil, "the welcome has no compress key")
            guard case .welcome(let welcome) = try LineCodec.decode(raw) else { Issue.record("not a welcome"); return }
            #expect(welcome.compress == nil)
            // Plain lines, byte for byte as the codec writes them.
            try await session.send(.push(Message.Push(ops: [setOp("dev-a", 1)])))
            #expect(await session.next() == .line(Array("pushed {\"confirmed\":1,\"applied\":1,\"duplicates\":0}".utf8)))
            try await session.send(.pull(Message.Pull(cursor: 0)))
            #expect(await session.message() == .ops(Message.OpsBatch(ops: findings("dev-b", 3), cursor: 4, more: false)))
        }
        await live.stop()
    }

    /// Bytes after the welcome that do not inflate: the hub closes the connection, and nothing of
    /// the message they were part of is applied. Three ways: plain lines where compressed ones are
    /// due, a push cut by an invalid block, and an invalid block after a push that was applied.
    @Test func corruptCompressedBytesCloseTheConnectionWithNothingApplied() async throws {
        let (live, tokenA) = try await start()
        let push = Array(LineChannel.buffer(.push(Message.Push(ops: [setOp("dev-a", 1), setOp("dev-a", 2)]))).readableBytesView)
        // A block header of type 3, which RFC 1951 reserves (an error), right where a block starts.
        let invalidBlock: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]

        // 1. The device sends plain lines although it offered deflate and the hub chose it.
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA, compress: ["deflate"]))
            guard case .welcome(let welcome) = await session.message(), welcome.compress == "deflate" else { Issue.record("no deflate"); return }
            try await session.enableCompression(deflating: false)
            try await session.sendRaw(push)
            try await expectClosedWithoutAnswer(&session)
        }
        #expect(try live.store.replica.operationCount() == 0)

        // 2. A push whose compressed bytes stop before its newline, followed by an invalid block.
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA, compress: ["deflate"]))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            try await session.enableCompression(deflating: false)
            try await session.sendRaw(TestDeflate.deflated(Array(push.dropLast())) + invalidBlock + [0x0A])
            try await expectClosedWithoutAnswer(&session)
        }
        #expect(try live.store.replica.operationCount() == 0)
        #expect(try await live.store.confirmed(device: "dev-a") == 0)

        // 3. One push goes through; the next message of the same stream is cut by an invalid block.
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA, compress: ["deflate"]))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            try await session.enableCompression(deflating: false)
            let stream = try ZlibCompressor(algorithm: .deflate)
            func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
                var input = ByteBuffer(bytes: bytes)
                var output = ByteBuffer()
                output.reserveCapacity(stream.maxSize(from: input) + 16)
                try stream.deflate(from: &input, to: &output, flush: .sync)
                return Array(output.readableBytesView)
            }
            let first = Array(LineChannel.buffer(.push(Message.Push(ops: [setOp("dev-a", 1)]))).readableBytesView)
            try await session.sendRaw(deflate(first))
            #expect(await session.message() == .pushed(Message.Pushed(confirmed: 1, applied: 1, duplicates: 0)))
            let second = Array(LineChannel.buffer(.push(Message.Push(ops: [setOp("dev-a", 2), setOp("dev-a", 3)]))).readableBytesView)
            try await session.sendRaw(deflate(Array(second.dropLast())) + invalidBlock + [0x0A])
            try await expectClosedWithoutAnswer(&session)
        }
        #expect(try live.store.replica.operations(device: "dev-a").map(\.operation) == [setOp("dev-a", 1)])
        #expect(try await live.store.confirmed(device: "dev-a") == 1)

        // The hub goes on serving.
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA, compress: ["deflate"]))
            guard case .welcome(let welcome) = await session.message() else { Issue.record("no welcome"); return }
            #expect(welcome.confirmed == 1)
        }
        await live.stop()
    }

    /// The line limit applies to the lines inside the streams (PROTOCOL.md 2.4, 18.4): a line of
    /// exactly 1 MiB is taken, one byte more is `line_too_long` and the hub closes, however few
    /// compressed bytes carried it.
    @Test func theLineLimitAppliesToInflatedLines() async throws {
        let (live, tokenA) = try await start()
        try await RawClient.with(port: live.port) { session in
            try await session.send(hello("dev-a", token: tokenA, compress: ["deflate"]))
            guard case .welcome = await session.message() else { Issue.record("no welcome"); return }
            let tap = try await session.enableCompression()
            func padded(_ head: String, to length: Int) -> [UInt8] {
                let head = Array(head.utf8), tail = Array("\"}".utf8)
                return head + [UInt8](repeating: UInt8(ascii: "x"), count: length - head.count - tail.count) + tail
            }
            let exact = padded("push {\"ops\":[],\"withdrawn\":[],\"pad\":\"", to: 1_048_576)
            try await session.send(exact)
            #expect(await session.message() == .pushed(Message.Pushed(confirmed: 0, applied: 0, duplicates: 0)))
            let over = padded("pull {\"cursor\":0,\"pad\":\"", to: 1_048_577)
            try await session.send(over)
            #expect(tap.state.withLock { $0.rawOut } < 10_000, "two 1 MiB lines compress to a few KiB")
            let answer = await session.message()
            #expect(answer == .error(ProtocolError(.lineTooLong, "a line may hold at most 1048576 bytes")))
            #expect(await session.next(timeout: .seconds(20)) == .closed)
        }
        await live.stop()
    }

    /// The hub must close: at most an `error` line first (the reference sends none).
    private func expectClosedWithoutAnswer(_ session: inout RawClient.Session, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var next = await session.next(timeout: .seconds(20))
        if case .line(let bytes) = next {
            #expect(errorCode(try? LineCodec.decode(bytes)) != nil, "only an error may precede the close", sourceLocation: sourceLocation)
            next = await session.next(timeout: .seconds(20))
        }
        #expect(next == .closed, "the hub keeps a connection whose stream is corrupt", sourceLocation: sourceLocation)
    }
}

// Test-side stream compression (PROTOCOL.md section 18): raw DEFLATE (RFC 1951, zlib windowBits
// -15) each way, a sync flush after every message. Written against zlib through CompressNIO's
// `ZlibCompressor` / `ZlibDecompressor`, independently of `InspectorProtocol.StreamCompression`, so
// the tests check the reference implementation against the specification, not against itself.
//
// Shared by `Tests/InspectorHubTests/` and `Tests/InspectorSyncClientTests/` through the
// `InspectorTestSupport` target.

import CompressNIO
import NIOCore
import NIOSSL
import Synchronization

/// What went over the socket of a connection wrapped in test-side DEFLATE streams.
final class DeflateTap: Sendable {
    struct State {
        /// Bytes read from the socket (compressed), and after inflating them.
        var rawIn: [UInt8] = []
        var inflated = 0
        /// Bytes written to the socket (compressed), and before deflating them.
        var rawOut = 0
        var plainOut = 0
        /// The compressed bytes of each write, in order.
        var writes: [[UInt8]] = []
        /// Why the inbound stream failed, if it did.
        var failure: String?
    }

    let state = Mutex(State())

    var rawIn: [UInt8] { state.withLock { $0.rawIn } }
    var failure: String? { state.withLock { $0.failure } }
}

enum TestDeflate {
    /// The four bytes a `Z_SYNC_FLUSH` ends with (an empty stored block, RFC 1951 3.2.4).
    static let syncFlushMarker: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// Puts a raw-DEFLATE inflater and deflater right next to the socket; run on the channel's event loop.
    ///
    /// - Parameters:
    ///   - inflating, deflating: which directions to wrap.
    ///   - first: a write that must still go out uncompressed (a hub's `welcome`), made after the
    ///     inflater is in place and before the deflater is, as PROTOCOL.md 18.3 asks of a hub.
    static func install(on channel: any Channel, inflating: Bool = true, deflating: Bool = true,
                        writingFirst first: ByteBuffer? = nil) throws -> DeflateTap {
        let tap = DeflateTap()
        let pipeline = channel.pipeline.syncOperations
        // Right above TLS when the connection has it (the streams carry the lines, inside TLS).
        let position: ChannelPipeline.SynchronousOperations.Position =
            (try? pipeline.handler(type: NIOSSLServerHandler.self)).map { .after($0) } ?? .first
        if inflating { try pipeline.addHandler(TestInflater(tap: tap), position: position) }
        if let first { channel.writeAndFlush(first, promise: nil) }
        if deflating { try pipeline.addHandler(TestDeflater(tap: tap), position: position) }
        return tap
    }

    /// `bytes` deflated as one message of a fresh stream: raw DEFLATE with a sync flush.
    static func deflated(_ bytes: [UInt8]) throws -> [UInt8] {
        let compressor = try ZlibCompressor(algorithm: .deflate)
        var input = ByteBuffer(bytes: bytes)
        var output = ByteBuffer()
        output.reserveCapacity(compressor.maxSize(from: input) + 16)
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        return Array(output.readableBytesView)
    }

    /// `bytes`, the start of a raw DEFLATE stream, inflated with a 32 KiB window as PROTOCOL.md 18.4
    /// asks of a receiver.
    static func inflated(_ bytes: [UInt8]) throws -> [UInt8] {
        let decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
        var input = ByteBuffer(bytes: bytes)
        var inflated: [UInt8] = []
        while true {
            var output = ByteBuffer()
            output.reserveCapacity(64 * 1024)
            var full = false
            do {
                try decompressor.inflate(from: &input, to: &output)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                full = true
            } catch let error as CompressNIOError where error == .inputBufferOverflow {}
            inflated += output.readableBytesView
            if !full { return inflated }
        }
    }
}

/// Inflates what the socket delivers; a corrupt stream fails the channel.
final class TestInflater: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let decompressor: ZlibDecompressor
    private let tap: DeflateTap
    private var failed = false

    init(tap: DeflateTap) throws {
        self.tap = tap
        decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        tap.state.withLock { $0.rawIn += input.readableBytesView }
        var output = context.channel.allocator.buffer(capacity: max(8 * input.readableBytes, 4096))
        while true {
            do {
                try decompressor.inflate(from: &input, to: &output)
                // Z_OK with room left: every input byte is consumed. Z_STREAM_END: the peer ended its
                // stream, which a sender must not do; bytes after it are an error.
                if input.readableBytes > 0 { return fail("data after the end of the DEFLATE stream", context) }
                break
            } catch let error as CompressNIOError where error == .bufferOverflow {
                output.reserveCapacity(output.capacity * 2)
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                break
            } catch {
                return fail("the DEFLATE stream is corrupt (\(error))", context)
            }
        }
        tap.state.withLock { $0.inflated += output.readableBytes }
        if output.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(output)) }
    }

    private func fail(_ why: String, _ context: ChannelHandlerContext) {
        failed = true
        tap.state.withLock { $0.failure = why }
        context.close(promise: nil)
    }
}

/// Deflates each write with a sync flush, so the peer can read every message when it arrives.
final class TestDeflater: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let compressor: ZlibCompressor
    private let tap: DeflateTap

    init(tap: DeflateTap) throws {
        self.tap = tap
        // Another level than the reference's: the streams must not depend on it.
        compressor = try ZlibCompressor(algorithm: .deflate, configuration: .init(windowSize: .window128k, compressionLevel: .bestCompression))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var input = unwrapOutboundIn(data)
        let plain = input.readableBytes
        var output = context.channel.allocator.buffer(capacity: compressor.maxSize(from: input) + 16)
        do {
            try compressor.deflate(from: &input, to: &output, flush: .sync)
        } catch {
            promise?.fail(error)
            return
        }
        let bytes = Array(output.readableBytesView)
        tap.state.withLock {
            $0.rawOut += bytes.count
            $0.plainOut += plain
            $0.writes.append(bytes)
        }
        context.write(wrapOutboundOut(output), promise: promise)
    }
}

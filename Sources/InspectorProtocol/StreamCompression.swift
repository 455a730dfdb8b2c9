import CompressNIO
import NIOConcurrencyHelpers
import NIOCore

/// Negotiated stream compression: after the handshake, both directions carry the same lines inside
/// one raw DEFLATE stream (RFC 1951) each way, flushed (`Z_SYNC_FLUSH`) after every message, as
/// IMAP's COMPRESS=DEFLATE does (RFC 4978). See `Protocol/PROTOCOL.md`, "Compression".
public enum StreamCompression {
    /// The name negotiated in `hello.compress` / `welcome.compress`.
    public static let deflate = "deflate"

    /// Inflates inbound bytes; placed right after the byte counter, before the line decoder.
    ///
    /// It inflates at most 64 KiB at a time and passes each piece on, so the line decoder's cap
    /// bounds memory even for a stream that inflates enormously.
    final class Inflater: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        private let decompressor: ZlibDecompressor

        init() throws { decompressor = try ZlibDecompressor(algorithm: .deflate) }

        /// The most bytes one compressed read may inflate to before it is taken for a decompression
        /// bomb: far above what real lines compress by (about 6:1 here), far below what a stream of
        /// empty lines does (about 1000:1).
        static func inflationBudget(for compressed: Int) -> Int { 64 * compressed + 2 * 1024 * 1024 }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var input = unwrapInboundIn(data)
            let budget = Self.inflationBudget(for: input.readableBytes)
            var inflated = 0
            while true {
                var output = context.channel.allocator.buffer(capacity: 64 * 1024)
                var needsMoreOutput = false
                do {
                    try decompressor.inflate(from: &input, to: &output)
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    needsMoreOutput = true
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    // All input consumed; wait for more.
                } catch {
                    context.fireErrorCaught(ProtocolError(.badLine, "the compressed stream is corrupt"))
                    context.close(promise: nil)
                    return
                }
                inflated += output.readableBytes
                if inflated > budget {
                    context.fireErrorCaught(ProtocolError(.badLine, "the compressed stream inflates beyond any real message"))
                    context.close(promise: nil)
                    return
                }
                if output.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(output)) }
                if !needsMoreOutput && input.readableBytes == 0 { break }
                if !needsMoreOutput && output.readableBytes == 0 { break }
            }
        }
    }

    /// How hard a sender's DEFLATE works: the receiver reads any level the same (PROTOCOL.md 18.4).
    public enum Effort: Sendable {
        /// zlib's level 6: what the hub sends, since it compresses every device's pulls on its own cores.
        case balanced
        /// zlib's level 9: what a device sends. Its pushes leave over the slowest link of the system
        /// (a commune's 2G), and a device compresses only its own ops: on the benchmark's pushes level 9
        /// sends about 4 % fewer bytes than level 6 for about twice the CPU (~70 ms per 5000 ops).
        case smallest

        var level: ZlibConfiguration.CompressionLevel {
            switch self {
            case .balanced: .compressionLevel6
            case .smallest: .bestCompression
            }
        }
    }

    /// Deflates outbound bytes with a sync flush per write, so each message can be read at once.
    final class Deflater: ChannelOutboundHandler, RemovableChannelHandler {
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private let compressor: ZlibCompressor

        init(effort: Effort) throws {
            compressor = try ZlibCompressor(algorithm: .deflate, configuration: .init(compressionLevel: effort.level))
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            var input = unwrapOutboundIn(data)
            var output = context.channel.allocator.buffer(capacity: compressor.maxSize(from: input) + 64)
            do {
                try compressor.deflate(from: &input, to: &output, flush: .sync)
            } catch {
                promise?.fail(ProtocolError(.internal, "compression failed"))
                return
            }
            context.write(wrapOutboundOut(output), promise: promise)
        }
    }

    /// Starts compressing both directions on `channel`; run on the channel's event loop, between two messages.
    ///
    /// - Parameters:
    ///   - effort: how hard this side's DEFLATE works on what it sends.
    ///   - beforeCompressing: a write that must still go out uncompressed (the hub's welcome), made
    ///     after the inflater is in place and before the deflater is.
    public static func enable(on channel: any Channel, effort: Effort, beforeCompressing: ByteBuffer? = nil) throws {
        let pipeline = channel.pipeline.syncOperations
        let counter = try pipeline.handler(type: ByteCounter.self)
        try pipeline.addHandler(Inflater(), position: .after(counter))
        if let beforeCompressing { channel.writeAndFlush(beforeCompressing, promise: nil) }
        try pipeline.addHandler(Deflater(effort: effort), position: .after(counter))
    }
}

/// Counts the bytes a connection writes to and reads from its socket (compressed or not).
public final class ByteCounter: ChannelDuplexHandler, Sendable {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let counts = NIOLockedValueBox((read: 0, written: 0))

    public init() {}

    /// Bytes read from and written to the socket so far.
    public var bytesRead: Int { counts.withLockedValue { $0.read } }
    public var bytesWritten: Int { counts.withLockedValue { $0.written } }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        counts.withLockedValue { $0.read += count }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let count = unwrapOutboundIn(data).readableBytes
        counts.withLockedValue { $0.written += count }
        context.write(data, promise: promise)
    }
}

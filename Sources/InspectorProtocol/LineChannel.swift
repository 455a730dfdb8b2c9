import NIOCore
import NIOExtras

/// The NIO side of the line protocol: framing only. Handlers split the byte stream into lines
/// (`LineBasedFrameDecoder`, capped by `maximumBufferSize`); decoding and all business logic run in
/// async code that reads the lines from an `NIOAsyncChannel`.
public enum LineChannel {
    /// The async channel type both ends use: whole lines in (without `\n`), bytes out.
    public typealias AsyncChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Adds the framing handlers to `channel` and wraps it; call on the channel's event loop.
    ///
    /// - Parameters:
    ///   - channel: a freshly accepted or connected channel.
    ///   - maximumLineBytes: the longest line accepted; a longer one fails the inbound stream with
    ///     `ByteToMessageDecoderError.PayloadTooLargeError` before it is buffered further.
    ///   - beforeFraming: inbound handlers placed between the byte counter and the line decoder (the
    ///     hub's pre-handshake limiter).
    public static func configure(_ channel: any Channel, maximumLineBytes: Int,
                                 beforeFraming: [any ChannelHandler] = []) throws -> AsyncChannel {
        try channel.pipeline.syncOperations.addHandler(ByteCounter())
        try channel.pipeline.syncOperations.addHandlers(beforeFraming)
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: maximumLineBytes))
        return try NIOAsyncChannel(wrappingChannelSynchronously: channel,
                                   configuration: .init(inboundType: ByteBuffer.self, outboundType: ByteBuffer.self))
    }

    /// Encodes a message into a buffer ready to write.
    public static func buffer(_ message: Message, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeString(LineCodec.encodeString(message))
        return buffer
    }

    /// The byte counter of a configured channel.
    public static func counter(of channel: any Channel) async throws -> ByteCounter {
        try await channel.pipeline.handler(type: ByteCounter.self).get()
    }

    /// Decodes one framed line.
    public static func decode(_ line: ByteBuffer) throws(ProtocolError) -> Message {
        try LineCodec.decode(line.readableBytesView)
    }

    /// Whether an inbound error means the peer sent a line over the cap.
    public static func isLineTooLong(_ error: any Error) -> Bool {
        error is ByteToMessageDecoderError.PayloadTooLargeError
    }
}

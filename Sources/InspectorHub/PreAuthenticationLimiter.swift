import InspectorProtocol
import NIOCore

/// Caps the unterminated part of a line before the handshake (PROTOCOL.md 2.4): framing only.
///
/// The line decoder after it is capped at the 1 MiB of an authenticated session. Until the hub lifts
/// it, this handler counts the bytes received since the last LF, and once they show a line longer
/// than the limit before its end has arrived, it fires a `line_too_long` ``ProtocolError`` (which
/// ends the connection's inbound stream; ``HubConnection`` sends it and closes) and drops every
/// byte that follows. So before the handshake the hub holds at most the limit, plus one CR, plus
/// one read, of a line whose LF has not come.
///
/// Only the unterminated part is counted: a whole line that arrives with its LF in one read goes
/// on to the decoder, and ``HubConnection`` checks its length. The limit counts the line without
/// its LF and without a CR right before it, so `limit + 1` unterminated bytes may still be a line
/// of `limit` bytes whose CR has arrived and whose LF has not: that much is still waited for.
///
/// It sits between the ``ByteCounter`` and the line decoder; the stream inflater of a compressed
/// session goes in front of it after the handshake, when it no longer counts anything.
///
/// ```swift
/// try channel.pipeline.syncOperations.addHandler(PreAuthenticationLimiter(maximumLineBytes: 16_384))
/// // … on the event loop, when the handshake has succeeded and before the welcome is written:
/// PreAuthenticationLimiter.lift(on: channel)
/// ```
final class PreAuthenticationLimiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Where the connection stands.
    enum State: Equatable {
        /// Before the handshake: `unterminated` bytes have arrived since the last LF.
        case counting(unterminated: Int)
        /// A line went over the limit: the error is fired, and everything after it is dropped.
        case refused
        /// After the handshake: bytes pass untouched (the line decoder's 1 MiB cap applies).
        case lifted
    }

    /// The longest line before the handshake, without its LF and a CR before it.
    let maximumLineBytes: Int
    private(set) var state = State.counting(unterminated: 0)

    init(maximumLineBytes: Int) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// The error fired when a line goes over the limit; ``HubConnection`` sends it as it is.
    var refusal: ProtocolError {
        ProtocolError(.lineTooLong, "a line before the handshake may hold at most \(maximumLineBytes) bytes")
    }

    /// Stops counting: from the next read on, bytes pass untouched. Call on the channel's event loop.
    func lift() {
        if case .counting = state { state = .lifted }
    }

    /// Lifts the limiter of `channel`, if it has one; call on the channel's event loop, when the
    /// handshake has succeeded and before the `welcome` is written (the device sends its next line
    /// only after reading the welcome, so no byte of it is counted).
    static func lift(on channel: any Channel) {
        (try? channel.pipeline.syncOperations.handler(type: PreAuthenticationLimiter.self))?.lift()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let unterminated: Int
        switch state {
        case .lifted:
            context.fireChannelRead(data)
            return
        case .refused:
            return
        case .counting(let count):
            unterminated = count
        }
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readableBytesView
        let lastLF = bytes.lastIndex(of: UInt8(ascii: "\n"))
        let count = lastLF.map { bytes.endIndex - $0 - 1 } ?? unterminated + bytes.count
        // `limit + 1` may be a line of the limit and its CR; one byte more is over in any case.
        guard count > maximumLineBytes + 1 else {
            state = .counting(unterminated: count)
            context.fireChannelRead(data)
            return
        }
        state = .refused
        if let lastLF {
            // The lines that ended in this read go on: they are checked whole, and come before the refusal.
            let ended = bytes.distance(from: bytes.startIndex, to: lastLF) + 1
            if let lines = buffer.readSlice(length: ended) {
                context.fireChannelRead(wrapInboundOut(lines))
            }
        }
        context.fireErrorCaught(refusal)
    }
}

import InspectorProtocol
import NIOCore
import NIOEmbedded
import Testing
@testable import InspectorHub

/// The pre-handshake cap on the unterminated part of a line, driven byte by byte in an `EmbeddedChannel`.
@Suite("PreAuthenticationLimiter")
struct PreAuthenticationLimiterTests {
    /// A channel holding only a limiter of `limit` bytes.
    func channel(limit: Int) throws -> (EmbeddedChannel, PreAuthenticationLimiter) {
        let limiter = PreAuthenticationLimiter(maximumLineBytes: limit)
        let channel = EmbeddedChannel(handler: limiter)
        return (channel, limiter)
    }

    func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    func x(_ count: Int) -> ByteBuffer { ByteBuffer(repeating: UInt8(ascii: "x"), count: count) }

    /// Every buffer passed on so far, concatenated.
    func passed(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// Writes `buffer` in; returns the error the limiter fired on it, if any.
    func write(_ channel: EmbeddedChannel, _ buffer: ByteBuffer) -> (any Error)? {
        do { try channel.writeInbound(buffer); return nil } catch { return error }
    }

    static func refusal(_ limit: Int) -> ProtocolError {
        ProtocolError(.lineTooLong, "a line before the handshake may hold at most \(limit) bytes")
    }

    @Test func anUnterminatedLineOfTheLimitAndItsCRPassesOnAndIsWaitedFor() throws {
        let (channel, limiter) = try channel(limit: 16_384)
        #expect(write(channel, x(10_000)) == nil)
        #expect(write(channel, x(6_384)) == nil)
        #expect(limiter.state == .counting(unterminated: 16_384))
        #expect(write(channel, bytes("\r")) == nil)
        #expect(limiter.state == .counting(unterminated: 16_385))
        #expect(try passed(channel).utf8.count == 16_385, "every byte passes on while under the cap")
        // The LF ends the line: the count starts again from the bytes after it.
        #expect(write(channel, bytes("\nhel")) == nil)
        #expect(limiter.state == .counting(unterminated: 3))
        #expect(try passed(channel) == "\nhel")
        _ = try channel.finish()
    }

    @Test func oneBytePastTheLimitAndACRIsRefusedAndTheRestDropped() throws {
        let (channel, limiter) = try channel(limit: 16_384)
        #expect(write(channel, x(16_385)) == nil)
        _ = try passed(channel)
        #expect(write(channel, x(1)) as? ProtocolError == Self.refusal(16_384))
        #expect(limiter.state == .refused)
        #expect(try passed(channel).isEmpty, "the byte past the cap is not passed on")
        // Nothing more passes, LF or not, lifted or not, and the refusal is fired once.
        #expect(write(channel, bytes("\npull {}\n")) == nil)
        limiter.lift()
        #expect(write(channel, bytes("pull {}\n")) == nil)
        #expect(limiter.state == .refused)
        #expect(try passed(channel).isEmpty)
        _ = try channel.finish()
    }

    @Test func oneLargeReadIsRefusedAtOnce() throws {
        let (channel, limiter) = try channel(limit: 16_384)
        #expect(write(channel, x(256 * 1024)) as? ProtocolError == Self.refusal(16_384))
        #expect(limiter.state == .refused)
        #expect(try passed(channel).isEmpty)
        _ = try channel.finish()
    }

    @Test func onlyTheBytesAfterTheLastLFCount() throws {
        let (channel, limiter) = try channel(limit: 8)
        // Whole lines pass whatever their length (the hub checks them whole); the tail counts.
        #expect(write(channel, bytes("a line far longer than eight bytes\nabc")) == nil)
        #expect(limiter.state == .counting(unterminated: 3))
        #expect(write(channel, bytes("defghi")) == nil)
        #expect(limiter.state == .counting(unterminated: 9))
        #expect(try passed(channel) == "a line far longer than eight bytes\nabcdefghi")
        _ = try channel.finish()
    }

    @Test func theLinesEndedInTheRefusedReadPassOnBeforeTheRefusal() throws {
        let (channel, limiter) = try channel(limit: 8)
        #expect(write(channel, bytes("abc")) == nil)
        #expect(write(channel, bytes("def\nhello {}\n0123456789")) as? ProtocolError == Self.refusal(8))
        #expect(limiter.state == .refused)
        #expect(try passed(channel) == "abcdef\nhello {}\n")
        _ = try channel.finish()
    }

    @Test func afterTheHandshakeBytesPassUntouched() throws {
        let (channel, limiter) = try channel(limit: 16_384)
        #expect(write(channel, x(10_000)) == nil)
        PreAuthenticationLimiter.lift(on: channel)
        #expect(limiter.state == .lifted)
        #expect(write(channel, x(200 * 1024)) == nil)
        #expect(write(channel, x(1 << 20)) == nil)
        #expect(try passed(channel).utf8.count == 10_000 + 200 * 1024 + (1 << 20))
        _ = try channel.finish()
    }

    @Test func liftingAChannelWithoutALimiterDoesNothing() throws {
        let channel = EmbeddedChannel()
        PreAuthenticationLimiter.lift(on: channel)
        _ = try channel.finish()
    }
}

import InspectorCore
import InspectorProtocol
@testable import InspectorTestSupport
import NIOCore
import NIOEmbedded
import Testing

@Suite struct StreamCompressionTests {
    /// A push of 600 ops in the form devices send: words of a small vocabulary, as notes and findings are.
    static let pushLine: [UInt8] = {
        let words = ["kiểm", "tra", "công", "tác", "thi", "đua", "khen", "thưởng", "hồ", "sơ", "được", "lưu", "trữ", "đầy", "đủ", "Mường", "Lay"]
        var state: UInt64 = 0x1181
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let ops: [Op] = (1...600).map { sequence in
            let timestamp = HLCTimestamp(millis: 1_718_845_320_000 + Int64(sequence) * 7, counter: 0, device: "dev-a")
            let text = (0..<(12 + next(12))).map { _ in words[next(words.count)] }.joined(separator: " ")
            let unit = ["muong-lay", "muong-ang"][next(2)], item = "II.\(1 + next(9))"
            return sequence % 5 == 0
                ? .findingAdd(device: "dev-a", sequence: Int64(sequence), timestamp: timestamp, unit: unit, item: item, kind: .observation, text: text)
                : .set(device: "dev-a", sequence: Int64(sequence), timestamp: timestamp, unit: unit, item: item, field: "note", value: text)
        }
        return LineCodec.encode(.push(.init(ops: ops)))
    }()

    /// What a side compressing with `effort` writes to its socket for `lines`, one write each.
    static func written(_ lines: [[UInt8]], effort: StreamCompression.Effort) throws -> [UInt8] {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteCounter())
        try StreamCompression.enable(on: channel, effort: effort)
        var socket: [UInt8] = []
        for line in lines {
            try channel.writeAndFlush(ByteBuffer(bytes: line)).wait()
            while let out = try channel.readOutbound(as: ByteBuffer.self) { socket += out.readableBytesView }
            // Every message ends with a sync flush, so the receiver can read it at once (PROTOCOL.md 18.4).
            #expect(socket.suffix(4).elementsEqual(TestDeflate.syncFlushMarker))
        }
        _ = try channel.finish()
        return socket
    }

    @Test(arguments: [StreamCompression.Effort.balanced, .smallest])
    func eitherEffortInflatesToTheLinesWritten(effort: StreamCompression.Effort) throws {
        let lines = [Self.pushLine, LineCodec.encode(.pull(.init(cursor: 12))), Self.pushLine]
        let socket = try Self.written(lines, effort: effort)
        #expect(try TestDeflate.inflated(socket) == lines.flatMap { $0 })
        #expect(socket.count * 4 < lines.map(\.count).reduce(0, +), "DEFLATE shrinks a push of words at least 4×")
    }

    @Test func aDeviceSendsFewerBytesThanTheHubsEffort() throws {
        let balanced = try Self.written([Self.pushLine], effort: .balanced).count
        let smallest = try Self.written([Self.pushLine], effort: .smallest).count
        #expect(smallest < balanced, "level 9: \(smallest) bytes, level 6: \(balanced) bytes")
    }
}

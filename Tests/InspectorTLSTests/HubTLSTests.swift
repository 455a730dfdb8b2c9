import InspectorCore
import InspectorProtocol
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOSSL
import Testing
@testable import InspectorTLS

@Suite struct HubTLSTests {
    @Test("a plain-TCP peer is answered with one upgrade_required line in clear, and closed")
    func plaintextRefused() throws {
        let tls = try HubTLS(identity: .generate())
        let channel = EmbeddedChannel()
        try tls.configure(channel, allowsPlaintext: false)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "hello {\"version\":1,\"device\":\"dev-a\",\"token\":\"t\",\"time\":0}\n"))
        let answer = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: answer).hasPrefix("error {\"code\":\"upgrade_required\""))
        #expect(String(buffer: answer).hasSuffix("\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "nothing of the plain line reaches the session")
        #expect(!channel.isActive)
    }

    @Test("for a lab, a plain-TCP peer's bytes pass on untouched and the sniffer leaves the pipeline")
    func plaintextAllowed() throws {
        let tls = try HubTLS(identity: .generate())
        let channel = EmbeddedChannel()
        try tls.configure(channel, allowsPlaintext: true)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "hello {}\n"))
        try channel.writeInbound(ByteBuffer(string: "bye {}\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "hello {}\n")
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "bye {}\n")
        #expect(throws: ChannelPipelineError.self) { try channel.pipeline.syncOperations.handler(type: TransportSniffer.self) }
        _ = try channel.finish()
    }

    @Test("a TLS handshake record installs the TLS server handler and is handed to it")
    func tlsInstalled() throws {
        let tls = try HubTLS(identity: .generate())
        let channel = EmbeddedChannel()
        try tls.configure(channel, allowsPlaintext: false)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // The first bytes of a ClientHello record; BoringSSL waits for the rest.
        try channel.writeInbound(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x80]))
        #expect(throws: Never.self) { try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) }
        #expect(throws: ChannelPipelineError.self) { try channel.pipeline.syncOperations.handler(type: TransportSniffer.self) }
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }
}

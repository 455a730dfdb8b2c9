import InspectorCore
import InspectorProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing
@testable import InspectorTLS

/// Handshakes between a real TLS server (HubTLS, on 127.0.0.1 port 0) and a pinned client (DeviceTLS).
@Suite struct DeviceTLSTests {
    /// Answers the first line with the key the client presented, as the hub reads it at `hello`.
    final class KeyEcho: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let channel = context.channel
            let loop = context.eventLoop
            Task {
                let transport = await HubTLS.transport(of: channel)
                let text: String
                switch transport {
                case .plaintext: text = "plaintext\n"
                case .tls(let key): text = "tls \(key?.description ?? "none")\n"
                }
                loop.execute { channel.writeAndFlush(ByteBuffer(string: text), promise: nil) }
            }
        }
    }

    /// Collects what the server answers, until it closes or errs.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = NIOLockedValueBox("")
        let done: EventLoopPromise<Void>
        init(done: EventLoopPromise<Void>) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            received.withLockedValue { $0 += text }
            if text.hasSuffix("\n") { done.succeed(()) }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { done.fail(error); context.close(promise: nil) }
        func channelInactive(context: ChannelHandlerContext) { done.fail(ChannelError.eof) }
    }

    private func startHub(_ hub: HubTLS, allowsPlaintext: Bool = false) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try hub.configure(channel, allowsPlaintext: allowsPlaintext)
                    try channel.pipeline.syncOperations.addHandler(KeyEcho())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    private func exchange(with server: any Channel, tls: DeviceTLS?, presented: DeviceTLS.Presented) async throws -> String {
        let port = try #require(server.localAddress?.port)
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let collector = Collector(done: done)
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(recordingIn: presented)) }
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        client.writeAndFlush(ByteBuffer(string: "hello\n"), promise: nil)
        defer { client.close(promise: nil) }
        try await done.futureResult.get()
        return collector.received.withLockedValue { $0 }
    }

    @Test("a device pinned to the hub's key shakes hands, and the hub reads the device's key")
    func pinnedHandshake() async throws {
        let hubKey = TLSIdentity.generate()
        let deviceKey = TLSIdentity.generate()
        let server = try await startHub(try HubTLS(identity: hubKey))
        defer { server.close(promise: nil) }
        let presented = DeviceTLS.Presented()
        let answer = try await exchange(with: server, tls: try DeviceTLS(identity: deviceKey, pinnedHubKey: hubKey.fingerprint),
                                        presented: presented)
        #expect(answer == "tls \(deviceKey.fingerprint)\n")
        #expect(presented.hubKey == hubKey.fingerprint)
    }

    @Test("a hub presenting another key fails the handshake; the device sent nothing of its own and knows what was presented")
    func wrongKeyRefused() async throws {
        let impostor = TLSIdentity.generate()
        let pinned = TLSIdentity.generate().fingerprint
        let server = try await startHub(try HubTLS(identity: impostor))
        defer { server.close(promise: nil) }
        let presented = DeviceTLS.Presented()
        await #expect(throws: (any Error).self) {
            _ = try await exchange(with: server, tls: try DeviceTLS(identity: .generate(), pinnedHubKey: pinned), presented: presented)
        }
        #expect(presented.hubKey == impostor.fingerprint)
    }

    @Test("a plain-TCP client of a lab hub is served in clear; of a TLS-only hub, it is told to upgrade")
    func plaintextClients() async throws {
        let lab = try await startHub(try HubTLS(identity: .generate()), allowsPlaintext: true)
        defer { lab.close(promise: nil) }
        #expect(try await exchange(with: lab, tls: nil, presented: .init()) == "plaintext\n")
        let strict = try await startHub(try HubTLS(identity: .generate()))
        defer { strict.close(promise: nil) }
        let answer = try await exchange(with: strict, tls: nil, presented: .init())
        #expect(answer.hasPrefix("error {\"code\":\"upgrade_required\""))
    }
}

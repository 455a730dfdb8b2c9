import InspectorCore
import InspectorProtocol
import NIOCore
import NIOSSL

/// The hub's side of transport security: a TLS 1.3 server context over the hub's key, and the first
/// handler of every accepted connection, which tells a TLS client from a plain-TCP one.
///
/// Every device must present a certificate (mutual TLS). Its key is not checked here: any key is
/// accepted in the handshake, and the hub compares it with the key the device enrolled with when the
/// device says `hello` (PROTOCOL.md 9.8). A plain-TCP peer (a version 1 device, a port scanner) is
/// answered with one `error upgrade_required` line in clear and the connection is closed, unless
/// plain TCP is allowed for a lab.
public struct HubTLS: Sendable {
    /// The hub's key.
    public let identity: TLSIdentity
    private let context: NIOSSLContext

    /// A server context for the hub's key.
    ///
    /// - Throws: when BoringSSL cannot make the context (it can always, for a valid key).
    public init(identity: TLSIdentity) throws {
        self.identity = identity
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try identity.makeCertificate(commonName: "InspectorSync hub"))],
            privateKey: .privateKey(try identity.makeNIOSSLPrivateKey()))
        configuration.minimumTLSVersion = .tlsv13
        // Ask every client for a certificate and refuse one without; its key is checked at `hello`.
        configuration.certificateVerification = .noHostnameVerification
        context = try NIOSSLContext(configuration: configuration)
    }

    /// Puts the transport sniffer first in a just-accepted channel's pipeline.
    ///
    /// - Parameters:
    ///   - allowsPlaintext: whether a plain-TCP client is served (a lab's `--insecure-plaintext`).
    ///   - onRefusal: called (on the event loop) when a plain-TCP client is refused, for the log.
    public func configure(_ channel: any Channel, allowsPlaintext: Bool,
                          onRefusal: (@Sendable (_ peer: String) -> Void)? = nil) throws {
        try channel.pipeline.syncOperations.addHandler(
            TransportSniffer(context: context, allowsPlaintext: allowsPlaintext, onRefusal: onRefusal), position: .first)
    }

    /// How a connection's peer reached the hub.
    public enum Transport: Sendable, Hashable {
        /// Plain TCP (allowed for a lab only).
        case plaintext
        /// TLS, with the key of the certificate the peer presented (nil only if it presented none,
        /// which the handshake refuses).
        case tls(peerKey: KeyFingerprint?)
    }

    /// How `channel`'s peer is connected; call it once the peer has sent data (the TLS handshake is done).
    public static func transport(of channel: any Channel) async -> Transport {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get() else {
            let hasTLS = (try? await channel.pipeline.handler(type: NIOSSLServerHandler.self).get()) != nil
            return hasTLS ? .tls(peerKey: nil) : .plaintext
        }
        return .tls(peerKey: try? KeyFingerprint(certificate: certificate))
    }
}

/// The first handler of a hub connection: at the first bytes, a TLS record (`0x16`, a handshake)
/// installs the TLS server handler after it; anything else is plain TCP, served only for a lab, and
/// otherwise answered with `error upgrade_required` in clear. Then it leaves the pipeline.
final class TransportSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let context: NIOSSLContext
    private let allowsPlaintext: Bool
    private let onRefusal: (@Sendable (String) -> Void)?
    private var decided = false

    init(context: NIOSSLContext, allowsPlaintext: Bool, onRefusal: (@Sendable (String) -> Void)? = nil) {
        self.context = context
        self.allowsPlaintext = allowsPlaintext
        self.onRefusal = onRefusal
    }

    /// The first byte of a TLS handshake record.
    static let handshakeRecord: UInt8 = 0x16

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        decided = true
        if first == Self.handshakeRecord {
            do {
                let handler = NIOSSLServerHandler(context: self.context, customVerificationCallback: { _, promise in
                    // Any key may shake hands; the hub checks it against the enrolled one at `hello`.
                    promise.succeed(.certificateVerified)
                })
                try context.pipeline.syncOperations.addHandler(handler, position: .after(self))
            } catch {
                context.close(promise: nil)
                return
            }
        } else if !allowsPlaintext {
            let refusal = ProtocolError(.upgradeRequired,
                                        "this hub speaks protocol \(ProtocolLimits.protocolVersion) over TLS only; upgrade the device's InspectorSync")
            context.writeAndFlush(wrapOutboundOut(LineChannel.buffer(.error(refusal))), promise: nil)
            context.close(promise: nil)
            onRefusal?(context.channel.remoteAddress?.description ?? "unknown peer")
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

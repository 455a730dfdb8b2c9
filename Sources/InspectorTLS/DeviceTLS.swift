import InspectorCore
import InspectorProtocol
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// The device's side of transport security: a TLS 1.3 client context that presents the device's key
/// and accepts only the hub key pinned at enrollment.
///
/// The pin is checked in the handshake, before the device sends a byte of its own: a hub (or a
/// relay in the middle) presenting any other key fails the handshake, and the device's enrollment
/// secret and data never leave it. The certificate's dates, names and issuer are not checked, so a
/// device whose clock is years off still connects, and a hub may renew its certificate freely.
public struct DeviceTLS: Sendable {
    /// The device's key.
    public let identity: TLSIdentity
    /// The hub key this device trusts.
    public let pinnedHubKey: KeyFingerprint
    private let context: NIOSSLContext

    public init(identity: TLSIdentity, pinnedHubKey: KeyFingerprint) throws {
        self.identity = identity
        self.pinnedHubKey = pinnedHubKey
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.certificateChain = [.certificate(try identity.makeCertificate(commonName: "InspectorSync device"))]
        configuration.privateKey = .privateKey(try identity.makeNIOSSLPrivateKey())
        context = try NIOSSLContext(configuration: configuration)
    }

    /// What happened in one handshake: the key the hub presented, whether the handshake completed,
    /// and the first TLS error.
    public final class Presented: Sendable {
        private struct State {
            var key: KeyFingerprint?
            var isComplete = false
            var failure: NIOSSLError?
        }
        private let state = Mutex(State())
        public init() {}
        /// The key of the hub's certificate; nil before the hub's certificate arrived.
        public var hubKey: KeyFingerprint? { state.withLock { $0.key } }
        /// Whether the handshake completed (the pin matched).
        public var isComplete: Bool { state.withLock { $0.isComplete } }
        /// The first TLS error of the connection, if any.
        public var failure: NIOSSLError? { state.withLock { $0.failure } }
        fileprivate func record(_ fingerprint: KeyFingerprint?) { state.withLock { $0.key = fingerprint } }
        fileprivate func complete() { state.withLock { $0.isComplete = true } }
        fileprivate func fail(_ error: NIOSSLError) { state.withLock { if $0.failure == nil { $0.failure = error } } }
    }

    /// A TLS client handler checking the pin, recording what the hub presented in `presented`.
    public func makeHandler(recordingIn presented: Presented) throws -> NIOSSLClientHandler {
        let pin = pinnedHubKey
        return try NIOSSLClientHandler(context: context, serverHostname: nil, customVerificationCallback: { certificates, promise in
            let fingerprint = certificates.first.flatMap { try? KeyFingerprint(certificate: $0) }
            presented.record(fingerprint)
            promise.succeed(fingerprint == pin ? .certificateVerified : .failed)
        })
    }

    /// Adds the TLS client handler to `pipeline`, followed by a handler that records in `presented`
    /// when the handshake completes and the first TLS error, and closes the connection on that error.
    public func configure(_ pipeline: ChannelPipeline.SynchronousOperations, recordingIn presented: Presented) throws {
        try pipeline.addHandler(try makeHandler(recordingIn: presented))
        try pipeline.addHandler(HandshakeRecorder(presented: presented))
    }

    /// Notes the end of the handshake and the first TLS error, passing every event on.
    final class HandshakeRecorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        let presented: Presented
        init(presented: Presented) { self.presented = presented }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted = event as? TLSUserEvent { presented.complete() }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if let failure = error as? NIOSSLError {
                presented.fail(failure)
                context.close(promise: nil)
            }
            context.fireErrorCaught(error)
        }
    }
}

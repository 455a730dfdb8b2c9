/// The limits of protocol version 1, as `Protocol/PROTOCOL.md` states them.
public struct ProtocolLimits: Sendable, Hashable {
    /// The longest line, newline included, once authenticated.
    public var maximumLineBytes: Int
    /// The longest line before the handshake has succeeded.
    public var maximumUnauthenticatedLineBytes: Int
    /// The most operations in one `push` or one `ops` batch.
    public var maximumBatchCount: Int
    /// Seconds a connection may take to authenticate.
    public var authenticationTimeout: Double
    /// Seconds a connection may stay silent after authenticating.
    public var idleTimeout: Double

    public init(maximumLineBytes: Int = 1 << 20, maximumUnauthenticatedLineBytes: Int = 16 << 10,
                maximumBatchCount: Int = 2000, authenticationTimeout: Double = 10, idleTimeout: Double = 120) {
        self.maximumLineBytes = maximumLineBytes
        self.maximumUnauthenticatedLineBytes = maximumUnauthenticatedLineBytes
        self.maximumBatchCount = maximumBatchCount
        self.authenticationTimeout = authenticationTimeout
        self.idleTimeout = idleTimeout
    }

    /// The limits of version 1.
    public static let v1 = ProtocolLimits()

    /// The protocol version this implementation speaks.
    public static let protocolVersion = 2
}

import InspectorProtocol

/// An error of a device's sync with the hub.
public struct SyncError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for a kind of sync error.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The replica has no hub address or token; run `inspector init … --hub --token`.
        public static let notConfigured = Code(rawValue: "not_configured")
        /// The hub could not be reached, or the connection broke; what was confirmed is kept.
        public static let connectionFailed = Code(rawValue: "connection_failed")
        /// The hub refused the handshake or a request; ``SyncError/hubCode`` says why.
        public static let refused = Code(rawValue: "refused_by_hub")
        /// The hub holds more of this device's operations than the replica: it was re-created or restored.
        public static let replicaBehindHub = Code(rawValue: "replica_behind_hub")
        /// The hub answered something the protocol does not allow there.
        public static let protocolViolation = Code(rawValue: "protocol_violation")
    }

    public var code: Code
    public var message: String
    /// The hub's error code, when the hub refused.
    public var hubCode: ProtocolError.Code?

    public init(_ code: Code, _ message: String, hubCode: ProtocolError.Code? = nil) {
        self.code = code
        self.message = message
        self.hubCode = hubCode
    }

    public var description: String { "\(message) [\(hubCode?.rawValue ?? code.rawValue)]" }
}

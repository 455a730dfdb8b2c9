import InspectorCore

/// An error of the sync protocol: a line that cannot be read, a message that breaks the rules, or a
/// refusal from the hub. It travels on the wire as an `error` line with the same ``code``.
///
/// Messages never repeat a token or a payload.
public struct ProtocolError: InspectorError, Hashable {
    /// The stable code, from the one registry.
    public typealias Code = ErrorCode

    public var code: Code
    public var message: String
    /// For errors about one operation in a push: its sequence number, so the device can set it aside.
    public var sequence: Int64?

    public init(_ code: Code, _ message: String, sequence: Int64? = nil) {
        self.code = code
        self.message = message.utf8.count > 1024 ? message.excerpt(250) + "…" : message
        self.sequence = sequence
    }
}

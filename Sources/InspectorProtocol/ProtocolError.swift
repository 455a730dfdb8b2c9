import InspectorCore

/// An error of the sync protocol: a line that cannot be read, a message that breaks the rules, or a
/// refusal from the hub. It travels on the wire as an `error` line with the same ``code``.
///
/// Messages never repeat a token or a payload.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable error code, as listed in `Protocol/PROTOCOL.md`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The line is not UTF-8, has no verb, or its JSON cannot be read.
        public static let badLine = Code(rawValue: "bad_line")
        /// The line is longer than the limit in force.
        public static let lineTooLong = Code(rawValue: "line_too_long")
        /// The verb is not one this version knows.
        public static let unknownVerb = Code(rawValue: "unknown_verb")
        /// The JSON lacks a key or has a wrong type.
        public static let badMessage = Code(rawValue: "bad_message")
        /// The peer speaks a protocol version this side does not.
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        /// The token is wrong, or the device is revoked or unknown.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// A message other than `hello` before the handshake, or a second `hello`.
        public static let notAuthenticated = Code(rawValue: "not_authenticated")
        /// An operation in a push carries another device's id.
        public static let foreignDevice = Code(rawValue: "foreign_device")
        /// An operation touches a unit the device is not assigned to.
        public static let outOfScope = Code(rawValue: "out_of_scope")
        /// An operation that the plan refuses (unknown item or field, invalid value…).
        public static let invalidOp = Code(rawValue: "invalid_op")
        /// An operation stamped more than 10 minutes ahead of the receiver's clock; the device records it again.
        public static let clockAhead = Code(rawValue: "clock_ahead")
        /// A retraction of a finding the receiver does not hold.
        public static let unknownFinding = Code(rawValue: "unknown_finding")
        /// A different operation is already held under that (device, sequence).
        public static let conflictingOp = Code(rawValue: "conflicting_op")
        /// A push with more operations than the batch cap (the line limit caps its bytes).
        public static let batchTooLarge = Code(rawValue: "batch_too_large")
        /// The hub could not write (disk full, I/O error); nothing of the push was stored.
        public static let storageFailed = Code(rawValue: "storage_failed")
        /// The connection was idle, or did not authenticate, for too long.
        public static let timeout = Code(rawValue: "timeout")
        /// A bundle file is cut, altered or malformed.
        public static let badBundle = Code(rawValue: "bad_bundle")
        /// Anything else; the hub keeps serving.
        public static let `internal` = Code(rawValue: "internal")
    }

    public var code: Code
    public var message: String
    /// For errors about one operation in a push: its sequence number, so the device can set it aside.
    public var sequence: Int64?

    public init(_ code: Code, _ message: String, sequence: Int64? = nil) {
        self.code = code
        self.message = message.utf8.count > 1024 ? message.excerpt(250) + "…" : message
        self.sequence = sequence
    }

    public var description: String { "\(message) [\(code)]" }
}

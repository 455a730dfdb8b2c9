import InspectorCore

/// An error raised by the replica store.
///
/// Errors from the pure model (an unknown item, an invalid value) pass through as
/// ``InspectorCore/CoreError``; this type covers what only a store can say.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for a kind of store error.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file is not an InspectorSync replica, or was made by a newer version.
        public static let notAReplica = Code(rawValue: "not_a_replica")
        /// A replica already exists at that path.
        public static let alreadyExists = Code(rawValue: "already_exists")
        /// The file does not exist.
        public static let notFound = Code(rawValue: "not_found")
        /// A different operation already holds this (device, sequence number).
        public static let conflictingOperation = Code(rawValue: "conflicting_operation")
        /// A finding id that the replica does not hold.
        public static let unknownFinding = Code(rawValue: "unknown_finding")
        /// The unit is outside the device's assigned scope.
        public static let outOfScope = Code(rawValue: "out_of_scope")
        /// The replica's clock cannot stamp a later timestamp (it stands at the end of the valid range).
        public static let clockExhausted = Code(rawValue: "clock_exhausted")
        /// The replica's log holds the last possible sequence number for its own device id.
        public static let sequenceExhausted = Code(rawValue: "sequence_exhausted")
        /// SQLite refused the work (disk full, I/O error, locked…); nothing was written.
        public static let database = Code(rawValue: "database_error")
    }

    public var code: Code
    public var message: String
    /// For an error about one operation: its sequence number.
    public var sequence: Int64?

    public init(_ code: Code, _ message: String, sequence: Int64? = nil) {
        self.code = code
        self.message = message
        self.sequence = sequence
    }

    public var description: String { "\(message) [\(code)]" }
}

/// An error raised by the pure model: a malformed plan, an invalid value, an operation that does not fit.
///
/// Every error has a stable ``code`` that scripts and peers can match on, and a readable ``message``
/// for people. Messages name what is wrong (the field, the unit, the line) but never repeat a token
/// or a whole payload.
///
/// ```swift
/// do { _ = try field.normalize("abc") }
/// catch let error as CoreError where error.code == .invalidValue { print(error.message) }
/// ```
public struct CoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for a kind of error.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The plan file is not valid JSON or does not follow the plan format.
        public static let malformedPlan = Code(rawValue: "malformed_plan")
        /// A unit id that the plan (or the hub) does not know.
        public static let unknownUnit = Code(rawValue: "unknown_unit")
        /// A checklist item id that the plan does not know.
        public static let unknownItem = Code(rawValue: "unknown_item")
        /// A field id that the item does not have.
        public static let unknownField = Code(rawValue: "unknown_field")
        /// A value that does not fit the field's type or limits.
        public static let invalidValue = Code(rawValue: "invalid_value")
        /// A finding kind outside the closed set.
        public static let unknownFindingKind = Code(rawValue: "unknown_finding_kind")
        /// Text that is empty or too long.
        public static let invalidText = Code(rawValue: "invalid_text")
        /// A device id that does not follow the id syntax.
        public static let invalidDeviceID = Code(rawValue: "invalid_device_id")
        /// An operation whose parts do not fit its kind.
        public static let malformedOperation = Code(rawValue: "malformed_operation")
        /// An operation stamped further ahead of the receiver's clock than ``HybridLogicalClock/futureTolerance``.
        public static let clockAhead = Code(rawValue: "clock_ahead")
        /// A retraction naming a finding the receiver does not hold.
        public static let unknownFinding = Code(rawValue: "unknown_finding")
        /// A retraction whose unit or item is not those of the finding it retracts.
        public static let retractionMismatch = Code(rawValue: "retraction_mismatch")
        /// An operation under the receiver's own id that the receiver never recorded: a replica is the
        /// only writer of its own sequence, so such an op is forged (or from a lost copy of the replica).
        public static let ownOperation = Code(rawValue: "own_operation")
    }

    /// The stable code of this error.
    public var code: Code
    /// A readable explanation of what is wrong.
    public var message: String

    /// Messages are capped (1 KiB): they quote ids and values, and must stay short whatever a peer sends.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message.utf8.count > 1024 ? message.excerpt(250) + "…" : message
    }

    public var description: String { "\(message) [\(code)]" }
}

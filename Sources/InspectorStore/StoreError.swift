import InspectorCore

/// An error raised by the replica store.
///
/// Errors from the pure model (an unknown item, an invalid value) pass through as
/// ``InspectorCore/CoreError``; this type covers what only a store can say.
public struct StoreError: InspectorError, Hashable {
    /// The stable code, from the one registry.
    public typealias Code = ErrorCode

    public var code: Code
    public var message: String
    /// For an error about one operation: its sequence number.
    public var sequence: Int64?

    public init(_ code: Code, _ message: String, sequence: Int64? = nil) {
        self.code = code
        self.message = message
        self.sequence = sequence
    }
}

/// The one error protocol of InspectorSync, across every layer: the pure model, the store, the
/// protocol, the hub and the sync client each throw an error type that conforms, with a stable
/// ``code`` from the one registry, ``ErrorCode``, and a readable ``message``.
///
/// Callers match on the code, whatever the layer:
///
/// ```swift
/// do { try await client.sync() }
/// catch let error as any InspectorError where error.code == .connectionFailed { retryLater() }
/// ```
///
/// Messages name what is wrong (the field, the unit, the operation) but never repeat a token or a
/// whole payload. No layer lets a lower library's error out (a GRDB `DatabaseError` becomes
/// ``ErrorCode/storageFailed``); the hub maps errors to the wire in one place
/// (`ProtocolError.init(answering:sequence:)` in InspectorProtocol).
public protocol InspectorError: Error, Sendable, CustomStringConvertible {
    /// The stable code: what scripts, peers and tests match on.
    var code: ErrorCode { get }
    /// A readable explanation, for people.
    var message: String { get }
}

extension InspectorError {
    public var description: String { "\(message) [\(code)]" }
}

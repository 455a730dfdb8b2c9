import InspectorCore
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
public struct CoreError: InspectorError, Hashable {
    /// The stable code, from the one registry.
    public typealias Code = ErrorCode

    public var code: Code
    /// A readable explanation of what is wrong.
    public var message: String

    /// Messages are capped (1 KiB): they quote ids and values, and must stay short whatever a peer sends.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message.utf8.count > 1024 ? message.excerpt(250) + "…" : message
    }
}

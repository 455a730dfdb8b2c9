import InspectorCore
/// An error of the hub's administration: devices, tokens, units.
public struct HubError: InspectorError, Hashable {
    /// The stable code, from the one registry.
    public typealias Code = ErrorCode

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

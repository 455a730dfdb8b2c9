import InspectorCore
import InspectorProtocol

/// An error of a device's sync with the hub.
public struct SyncError: InspectorError, Hashable {
    /// The stable code, from the one registry.
    public typealias Code = ErrorCode

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

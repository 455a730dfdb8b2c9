/// An error of the hub's administration: devices, tokens, units.
public struct HubError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for a kind of hub error.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No device with that id is enrolled.
        public static let unknownDevice = Code(rawValue: "unknown_device")
        /// A device with that id is already enrolled.
        public static let deviceExists = Code(rawValue: "device_exists")
        /// The units given to a device are empty or unknown.
        public static let invalidUnits = Code(rawValue: "invalid_units")
        /// The export folder cannot be written.
        public static let exportFailed = Code(rawValue: "export_failed")
        /// The hub file is missing or not a hub.
        public static let notAHub = Code(rawValue: "not_a_hub")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) [\(code)]" }
}

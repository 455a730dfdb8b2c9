/// Syntax of the ids that name devices and units.
public enum Identifier {
    /// The longest id allowed.
    public static let maximumLength = 64

    /// The device id reserved for the hub's own operations (a supervisor's resolutions).
    public static let hubDevice = "hub"

    /// Whether `id` is 1–64 characters of `a-z`, `0-9`, `-`, `_` and `.`, starting with a letter or digit.
    public static func isValid(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard let first = bytes.first, bytes.count <= maximumLength, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Throws ``CoreError/Code/invalidDeviceID`` unless `id` is a valid device id.
    public static func validateDevice(_ id: String) throws(CoreError) {
        guard isValid(id) else {
            throw CoreError(.invalidDeviceID, "device id '\(id.excerpt(70))' is not valid: use 1–64 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

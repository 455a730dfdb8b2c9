import Foundation

/// Unpadded base64url (RFC 4648 section 5), the alphabet of key fingerprints, chain digests and
/// signatures on the wire.
public enum Base64URL {
    /// The bytes in unpadded base64url.
    public static func encode(_ bytes: some DataProtocol) -> String {
        let base64 = Data(bytes).base64EncodedString()
        var text = ""
        text.reserveCapacity(base64.utf8.count)
        for character in base64 where character != "=" {
            text.append(character == "+" ? "-" : character == "/" ? "_" : character)
        }
        return text
    }

    /// The bytes of unpadded base64url text, or nil when the text is anything else (padding, the
    /// standard alphabet's `+` and `/`, white space, a length no encoding has).
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        guard text.utf8.count % 4 != 1, text.utf8.allSatisfy(isAlphabet) else { return nil }
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while standard.utf8.count % 4 != 0 { standard.append("=") }
        guard let data = Data(base64Encoded: standard) else { return nil }
        let bytes = [UInt8](data)
        // One text per byte string: unused low bits of the last character must be zero.
        guard encode(bytes) == text else { return nil }
        return bytes
    }

    static func isAlphabet(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }
}

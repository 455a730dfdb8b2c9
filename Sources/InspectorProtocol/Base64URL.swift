import Foundation

/// Unpadded base64url (RFC 4648 section 5), the alphabet of key fingerprints, chain digests,
/// signatures and file chunks on the wire.
///
/// Both directions work on bytes through lookup tables: a 256 KiB chunk is encoded and decoded in
/// one pass, without a character-by-character `String`.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The value of each byte of the alphabet; 0xFF for any other byte.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// The bytes in unpadded base64url.
    public static func encode(_ bytes: some DataProtocol) -> String {
        let input = [UInt8](bytes)
        let count = input.count / 3 * 4 + [0, 2, 3][input.count % 3]
        return String(unsafeUninitializedCapacity: count) { output in
            var o = 0, i = 0
            while i + 3 <= input.count {
                let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                output[o] = alphabet[Int(n >> 18)]; output[o + 1] = alphabet[Int(n >> 12 & 63)]
                output[o + 2] = alphabet[Int(n >> 6 & 63)]; output[o + 3] = alphabet[Int(n & 63)]
                i += 3; o += 4
            }
            switch input.count - i {
            case 1:
                let n = UInt32(input[i]) << 16
                output[o] = alphabet[Int(n >> 18)]; output[o + 1] = alphabet[Int(n >> 12 & 63)]
                o += 2
            case 2:
                let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                output[o] = alphabet[Int(n >> 18)]; output[o + 1] = alphabet[Int(n >> 12 & 63)]; output[o + 2] = alphabet[Int(n >> 6 & 63)]
                o += 3
            default: break
            }
            return o
        }
    }

    /// The bytes of unpadded base64url text, or nil when the text is anything else (padding, the
    /// standard alphabet's `+` and `/`, white space, a length no encoding has, or unused low bits
    /// of the last character that are not zero: one text per byte string).
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { decode(bytes: $0) }
    }

    /// ``decode(_:)`` over the text's UTF-8 bytes.
    public static func decode(bytes input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let remainder = input.count % 4
        guard remainder != 1 else { return nil }
        let count = input.count / 4 * 3 + [0, 0, 1, 2][remainder]
        var failed = false
        let output = [UInt8](unsafeUninitializedCapacity: count) { output, written in
            var i = 0, o = 0
            while i + 4 <= input.count {
                let a = values[Int(input[i])], b = values[Int(input[i + 1])], c = values[Int(input[i + 2])], d = values[Int(input[i + 3])]
                if (a | b | c | d) & 0xC0 != 0 { failed = true; return }
                let n = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                output[o] = UInt8(n >> 16); output[o + 1] = UInt8(n >> 8 & 0xFF); output[o + 2] = UInt8(n & 0xFF)
                i += 4; o += 3
            }
            if remainder >= 2 {
                let a = values[Int(input[i])], b = values[Int(input[i + 1])]
                let c = remainder == 3 ? values[Int(input[i + 2])] : 0
                if (a | b | c) & 0xC0 != 0 { failed = true; return }
                let n = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                // The bits past the last byte must be zero.
                if remainder == 2 && n & 0xFFFF != 0 || remainder == 3 && n & 0xFF != 0 { failed = true; return }
                output[o] = UInt8(n >> 16)
                if remainder == 3 { output[o + 1] = UInt8(n >> 8 & 0xFF) }
                o += remainder - 1
            }
            written = o
        }
        return failed ? nil : output
    }

    static func isAlphabet(_ byte: UInt8) -> Bool { values[Int(byte)] != 0xFF }
}

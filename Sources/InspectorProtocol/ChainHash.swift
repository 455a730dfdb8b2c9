import Crypto
import Foundation

/// A 32-byte SHA-256 value of an operation chain: an op's digest or a chain value (PROTOCOL.md 19).
///
/// Written on the wire as 43 characters of unpadded base64url.
public struct ChainHash: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes.
    public let bytes: [UInt8]

    /// The chain value before a device's first operation: 32 zero bytes.
    public static let genesis = ChainHash(validated: [UInt8](repeating: 0, count: 32))

    /// A value of exactly 32 bytes, or nil.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    init(validated bytes: [UInt8]) { self.bytes = bytes }

    init(_ digest: SHA256.Digest) {
        bytes = Array(digest)
    }

    /// Reads 43 characters of unpadded base64url.
    ///
    /// - Throws: ``ProtocolError`` `bad_message` naming the text.
    public init(parsing text: some StringProtocol) throws(ProtocolError) {
        guard text.utf8.count == 43, let bytes = Base64URL.decode(text), bytes.count == 32 else {
            throw ProtocolError(.badMessage, "a chain digest is 43 base64url characters; got '\(String(text).excerpt(60))'")
        }
        self.bytes = bytes
    }

    /// The value in unpadded base64url.
    public var description: String { Base64URL.encode(bytes) }
}

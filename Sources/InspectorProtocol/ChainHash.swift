import Crypto
import Foundation

/// A 32-byte SHA-256 value of an operation chain: an op's digest or a chain value (PROTOCOL.md 19).
///
/// Written on the wire as 43 characters of unpadded base64url. Held inline, as four 64-bit words,
/// so that folding a chain allocates nothing per op.
public struct ChainHash: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes as four big-endian words.
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// The chain value before a device's first operation: 32 zero bytes.
    public static let genesis = ChainHash(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// A value of exactly 32 bytes, or nil.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self = bytes.withUnsafeBytes { ChainHash(raw: $0) }
    }

    init(raw: UnsafeRawBufferPointer) {
        guard raw.count == 32 else { words = (0, 0, 0, 0); return }
        func word(_ index: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) }
        words = (word(0), word(1), word(2), word(3))
    }

    init(_ digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { ChainHash(raw: $0) }
    }

    /// The 32 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        write(to: &out, at: 0)
        return out
    }

    /// Writes the 32 bytes into `buffer` from `offset` on (which must hold them).
    func write(to buffer: inout [UInt8], at offset: Int) {
        buffer.withUnsafeMutableBytes { store(into: $0, at: offset) }
    }

    /// Stores the 32 bytes into `raw` from `offset` on.
    func store(into raw: UnsafeMutableRawBufferPointer, at offset: Int) {
        raw.storeBytes(of: words.0.bigEndian, toByteOffset: offset, as: UInt64.self)
        raw.storeBytes(of: words.1.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        raw.storeBytes(of: words.2.bigEndian, toByteOffset: offset + 16, as: UInt64.self)
        raw.storeBytes(of: words.3.bigEndian, toByteOffset: offset + 24, as: UInt64.self)
    }

    public static func == (a: ChainHash, b: ChainHash) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// Reads 43 characters of unpadded base64url.
    ///
    /// - Throws: ``ProtocolError`` `bad_message` naming the text.
    public init(parsing text: some StringProtocol) throws(ProtocolError) {
        guard text.utf8.count == 43, let bytes = Base64URL.decode(text), let value = ChainHash(bytes: bytes) else {
            throw ProtocolError(.badMessage, "a chain digest is 43 base64url characters; got '\(String(text).excerpt(60))'")
        }
        self = value
    }

    /// The value in unpadded base64url.
    public var description: String { Base64URL.encode(bytes) }
}

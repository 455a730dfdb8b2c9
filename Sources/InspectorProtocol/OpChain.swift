import Crypto
import Foundation
import InspectorCore

/// The chain that binds each device's operations together (PROTOCOL.md 19.1).
///
/// Every operation has a **digest**, the SHA-256 of its canonical bytes, and every sequence number
/// of a device a **chain value**: `h(0)` is 32 zero bytes and `h(s) = SHA-256(h(s−1) ‖ digest(op s))`,
/// over every operation the device recorded, those it later set aside included. The device signs the
/// chain value of its latest operation (``ChainSegment``); whoever holds that signature, the
/// operations and the digests of those it lacks can check that none was altered, dropped, reordered
/// or forged.
///
/// ```swift
/// var chain = ChainHash.genesis
/// for op in ops { chain = OpChain.link(chain, OpChain.digest(of: op)) }
/// ```
public enum OpChain {
    /// The canonical bytes of an operation: its eleven parts in the order of the op object
    /// (`d s t c k u i f n fk v`). A string is `0x00` when absent, else `0x01`, its UTF-8 length as a
    /// 4-byte big-endian integer and its UTF-8 bytes; `s` and `t` are 8-byte and `c` 2-byte big-endian
    /// integers.
    public static func canonicalBytes(of op: Op) -> [UInt8] {
        var bytes: [UInt8] = []
        appendCanonicalBytes(of: op, to: &bytes)
        return bytes
    }

    /// Appends the canonical bytes of `op` to `bytes`.
    static func appendCanonicalBytes(of op: Op, to bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 64 + op.value.utf8.count + op.unit.utf8.count + op.device.utf8.count)
        func string(_ text: String?) {
            guard let text else { bytes.append(0); return }
            bytes.append(1)
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: text.utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: text.utf8)
        }
        string(op.device)
        withUnsafeBytes(of: UInt64(bitPattern: op.sequence).bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(bitPattern: op.timestamp.millis).bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(truncatingIfNeeded: op.timestamp.counter).bigEndian) { bytes.append(contentsOf: $0) }
        string(op.kind.rawValue)
        string(op.unit)
        string(op.item)
        string(op.field)
        string(op.finding)
        string(op.findingKind?.rawValue)
        string(op.value)
    }

    /// The operation's digest: the SHA-256 of its canonical bytes.
    public static func digest(of op: Op) -> ChainHash {
        var scratch: [UInt8] = []
        return digest(of: op, scratch: &scratch)
    }

    /// The digest, with the canonical bytes built in `scratch` (emptied first), so that a loop over
    /// many ops reuses one buffer.
    static func digest(of op: Op, scratch: inout [UInt8]) -> ChainHash {
        scratch.removeAll(keepingCapacity: true)
        appendCanonicalBytes(of: op, to: &scratch)
        return scratch.withUnsafeBytes { ChainHash(SHA256.hash(data: $0)) }
    }

    /// The chain value after an operation: `SHA-256(previous ‖ digest)`.
    public static func link(_ previous: ChainHash, _ digest: ChainHash) -> ChainHash {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { raw in
            previous.store(into: raw, at: 0)
            digest.store(into: raw, at: 32)
            return ChainHash(SHA256.hash(data: UnsafeRawBufferPointer(raw)))
        }
    }
}

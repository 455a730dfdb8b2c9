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
        bytes.reserveCapacity(64 + op.value.utf8.count + op.unit.utf8.count + op.device.utf8.count)
        func string(_ text: String?) {
            guard let text else { bytes.append(0); return }
            bytes.append(1)
            append(UInt64(text.utf8.count), width: 4)
            bytes.append(contentsOf: text.utf8)
        }
        func append(_ value: UInt64, width: Int) {
            for shift in stride(from: (width - 1) * 8, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        string(op.device)
        append(UInt64(bitPattern: op.sequence), width: 8)
        append(UInt64(bitPattern: op.timestamp.millis), width: 8)
        append(UInt64(truncatingIfNeeded: op.timestamp.counter), width: 2)
        string(op.kind.rawValue)
        string(op.unit)
        string(op.item)
        string(op.field)
        string(op.finding)
        string(op.findingKind?.rawValue)
        string(op.value)
        return bytes
    }

    /// The operation's digest: the SHA-256 of its canonical bytes.
    public static func digest(of op: Op) -> ChainHash {
        ChainHash(SHA256.hash(data: canonicalBytes(of: op)))
    }

    /// The chain value after an operation: `SHA-256(previous ‖ digest)`.
    public static func link(_ previous: ChainHash, _ digest: ChainHash) -> ChainHash {
        var hasher = SHA256()
        hasher.update(data: previous.bytes)
        hasher.update(data: digest.bytes)
        return ChainHash(hasher.finalize())
    }
}

import Foundation
import InspectorCore

/// A hand-written reader for the two lines that carry operations in bulk, `push` and `ops`, in the
/// exact form this implementation writes them (``LineCodec/encodeString(_:)``, ``InspectorCore/Op/wireJSON()``):
/// keys in their fixed order, no white space, numbers without fraction or exponent, strings without
/// escapes. It reads such a body in one pass over its bytes, with no generic JSON value per op.
///
/// It is only a fast path: it answers nil for anything else (another key order, an escape, a `null`,
/// an op that does not read or fails its shape check, an unknown key), and ``LineCodec/decode(_:)``
/// then reads the line with Foundation's `JSONDecoder`, whose errors are the protocol's. For every
/// body it accepts, the message equals the one the full reader produces (`OpsLineReaderTests`, and
/// the codec fuzzer checks it on every input).
enum OpsLineReader {
    /// The message of a `push` or `ops` body in this implementation's own form, or nil.
    static func read(verb: String, body: Data) -> Message? {
        body.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Message? in
            var reader = Reader(bytes: raw)
            switch verb {
            case "push":
                guard reader.literal("{\"ops\":"), let ops = reader.ops(), reader.literal(",\"withdrawn\":["),
                      let withdrawn = reader.integers() else { return nil }
                var head: ChainSegment?
                if reader.literal(",\"head\":") {
                    // A small object: read in full, the segment's own errors kept for the full reader.
                    guard let object = reader.restOfObject(), let segment = try? ChainSegment(json: Data(object)) else { return nil }
                    head = segment
                }
                guard reader.literal("}"), reader.atEnd else { return nil }
                return .push(Message.Push(ops: ops, withdrawn: withdrawn, head: head))
            case "ops":
                guard reader.literal("{\"ops\":"), let ops = reader.ops(), reader.literal(",\"cursor\":"), let cursor = reader.integer(),
                      reader.literal(",\"more\":") else { return nil }
                let more: Bool
                if reader.literal("true") { more = true } else if reader.literal("false") { more = false } else { return nil }
                guard reader.literal("}"), reader.atEnd else { return nil }
                return .ops(Message.OpsBatch(ops: ops, cursor: cursor, more: more))
            default:
                return nil
            }
        }
    }

    /// A cursor over the body's bytes; every method answers nil (or false) without moving on a mismatch
    /// that matters, and the caller then gives up on the whole body.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        /// Consumes `text` if the bytes continue with it.
        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            let pattern = UnsafeRawBufferPointer(start: text.utf8Start, count: count)
            for offset in 0..<count where bytes[index + offset] != pattern[offset] { return false }
            index += count
            return true
        }

        /// The bytes from here up to, not including, the body's final `}`, when they are a JSON object
        /// (an opening `{` and a last `}`); the reader then stands at that final `}`.
        mutating func restOfObject() -> UnsafeRawBufferPointer.SubSequence? {
            guard bytes.count - index >= 3, bytes[index] == UInt8(ascii: "{"), bytes[bytes.count - 1] == UInt8(ascii: "}"),
                  bytes[bytes.count - 2] == UInt8(ascii: "}") else { return nil }
            let object = bytes[index..<(bytes.count - 1)]
            index = bytes.count - 1
            return object
        }

        /// `-?(0|[1-9][0-9]*)` within Int64.
        mutating func integer() -> Int64? {
            var position = index
            let negative = position < bytes.count && bytes[position] == UInt8(ascii: "-")
            if negative { position += 1 }
            let start = position
            var magnitude: UInt64 = 0
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[position] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                magnitude = sum
                position += 1
            }
            let digits = position - start
            guard digits > 0, !(digits > 1 && bytes[start] == UInt8(ascii: "0")), !(negative && magnitude == 0) else { return nil }
            let value: Int64
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
                value = magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
            } else {
                guard magnitude <= UInt64(Int64.max) else { return nil }
                value = Int64(magnitude)
            }
            index = position
            return value
        }

        /// A comma-separated list of integers up to and including `]` (after its `[`).
        mutating func integers() -> [Int64]? {
            var values: [Int64] = []
            if literal("]") { return values }
            while true {
                guard let value = integer() else { return nil }
                values.append(value)
                if literal("]") { return values }
                guard literal(",") else { return nil }
            }
        }

        /// A string without escapes or control characters (the line is valid UTF-8 already).
        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index + 1
            var position = start
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                    index = position + 1
                    return text
                }
                guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
                position += 1
            }
            return nil
        }

        /// `[op,op,…]`, every op read and shape-checked, or nil.
        mutating func ops() -> [Op]? {
            guard literal("[") else { return nil }
            var ops: [Op] = []
            if literal("]") { return ops }
            while true {
                guard let op = op() else { return nil }
                ops.append(op)
                if literal("]") { return ops }
                guard literal(",") else { return nil }
            }
        }

        /// One op object with its keys in ``InspectorCore/Op/wireJSON()``'s order.
        mutating func op() -> Op? {
            guard literal("{\"d\":"), let device = string(), literal(",\"s\":"), let sequence = integer(),
                  literal(",\"t\":"), let millis = integer(), literal(",\"c\":"), let counter = integer(),
                  literal(",\"k\":"), let kindText = string(), let kind = Op.Kind(rawValue: kindText),
                  literal(",\"u\":"), let unit = string() else { return nil }
            var item: String?, field: String?, finding: String?, findingKind: FindingKind?
            if literal(",\"i\":") { guard let text = string() else { return nil }; item = text }
            if literal(",\"f\":") { guard let text = string() else { return nil }; field = text }
            if literal(",\"n\":") { guard let text = string() else { return nil }; finding = text }
            if literal(",\"fk\":") {
                guard let text = string(), let parsed = FindingKind(rawValue: text) else { return nil }
                findingKind = parsed
            }
            guard literal(",\"v\":"), let value = string(), literal("}") else { return nil }
            let op = Op(device: device, sequence: sequence, timestamp: HLCTimestamp(millis: millis, counter: counter, device: device),
                        kind: kind, unit: unit, item: item, field: field, finding: finding, findingKind: findingKind, value: value)
            // An op that fails its shape check is answered by the full reader, with the protocol's error.
            guard (try? op.validateShape()) != nil else { return nil }
            return op
        }
    }
}

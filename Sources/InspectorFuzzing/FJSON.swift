import Foundation
import InspectorCore
import InspectorProtocol

/// A JSON value for mutation: keeps key order and duplicate keys, and can hold raw bytes.
indirect enum FJSON {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([FJSON])
    case object([(String, FJSON)])
    /// Bytes written as they are (huge numbers, deep nesting, broken strings).
    case raw([UInt8])

    enum Step { case key(Int), index(Int) }

    static let hugeNumbers = [
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "18446744073709551616", "123456789012345678901234567890", "1e400", "-1e400", "1e-400", "1.0", "1e2", "1E+2",
        "-0", "0.5", "-1", "01", "0x10", "NaN", "Infinity", "-", "1.", ".5", "2e9223372036854775807", "1e-7",
        "4611686018427387904", "2147483648", "-2147483649",
    ]

    static let specialStrings = [
        "", " ", "\u{0}", "\u{0}dev-a", "dev-a", "hub", "dev-a/1", "Dev-A", "muong-lay", "e\u{301}", "é", "\u{2028}", "\u{FEFF}",
        String(repeating: "a", count: 65), "II.4", "status", "done", "set", "finding_add", "finding_retract", "observation",
        "deflate", "\\", "\"", "\u{1F600}", "\u{7F}", "../../etc/passwd", "a\nb", "\r",
    ]

    /// Strings an op member might hold: kinds, finding kinds, ids, values.
    static let opStrings = [
        "set", "finding_add", "finding_retract", "shortcoming", "good_practice", "recommendation", "observation", "dev-a/1", "dev-a/2",
        "dev-b", "muong-ang", "so-y-te", "II.4", "II.5", "II.6.c", "status", "rating", "note", "fund_percent", "done", "12.5", "12,5",
        "-0", "1e2", "2024-02-30", "2024-06-20", "tot", "Ghi nhận.", "a\u{0}b", "x y", ".dev", "-dev", "dev_", "a.b.c",
    ]

    static func otherType(than value: FJSON, random: inout SplitMix64) -> FJSON {
        let choices: [FJSON] = [.null, .bool(true), .bool(false), .number("0"), .number("1"), .number("-1"), .number("1.5"),
                                .string("x"), .string(""), .string("1"), .array([]), .array([.number("1"), .string("a")]),
                                .object([]), .object([("k", .number("1"))])]
        return random.pick(choices)
    }

    static func nested(_ value: FJSON, depth: Int, random: inout SplitMix64) -> FJSON {
        let inner = value.serialized()
        let useArrays = random.chance(60)
        var out: [UInt8] = []
        out.reserveCapacity(inner.count + depth * 6)
        for _ in 0..<depth { out += useArrays ? [0x5B] : Array("{\"a\":".utf8) }
        out += inner
        for _ in 0..<depth { out.append(useArrays ? 0x5D : 0x7D) }
        return .raw(out)
    }

    static func longString(random: inout SplitMix64) -> [UInt8] {
        let length = random.chance(5) ? random.pick([20_000, 70_000]) : random.pick([10, 100, 4001])
        let unit: [UInt8] = switch random.int(0...8) {
        case 0: Array("x".utf8)
        case 1: Array("ệ".utf8)
        case 2: Array("e\u{301}\u{302}\u{303}".utf8)  // combining marks: not NFC
        case 3: Array("\\u0000".utf8)
        case 4: Array("\\ud800".utf8)  // a lone surrogate
        case 5: Array("\\\"".utf8)
        case 6: [0xFF]  // not UTF-8
        case 7: [0x00]  // a raw NUL (not allowed in JSON strings)
        default: Array("\\u00e9\\n\\t".utf8)
        }
        var out: [UInt8] = [0x22]
        out.reserveCapacity(length * unit.count + 2)
        for _ in 0..<length { out += unit }
        if random.chance(90) { out.append(0x22) }
        return out
    }

    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        write(to: &out)
        return out
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .number(let text): out += Array(text.utf8)
        case .string(let text):
            var string = ""
            JSONValue.writeString(text, to: &string)
            out += Array(string.utf8)
        case .raw(let bytes): out += bytes
        case .array(let elements):
            out.append(0x5B)
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(0x2C) }
                element.write(to: &out)
            }
            out.append(0x5D)
        case .object(let members):
            out.append(0x7B)
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(0x2C) }
                FJSON.string(key).write(to: &out)
                out.append(0x3A)
                value.write(to: &out)
            }
            out.append(0x7D)
        }
    }

    func collectPaths(prefix: [Step], into paths: inout [[Step]]) {
        paths.append(prefix)
        guard prefix.count < 8 else { return }
        switch self {
        case .array(let elements):
            for index in elements.indices { elements[index].collectPaths(prefix: prefix + [.index(index)], into: &paths) }
        case .object(let members):
            for index in members.indices { members[index].1.collectPaths(prefix: prefix + [.key(index)], into: &paths) }
        default: break
        }
    }

    /// Whether `path` names a member of an op object: `ops[i].key` of a push or an ops batch, or `key` of an `op` line's body.
    func isOpMember(_ path: [Step]) -> Bool {
        guard case .object(let members) = self else { return false }
        if path.count == 1 { return members.contains { $0.0 == "d" } && members.contains { $0.0 == "k" } }
        guard path.count == 3, case .key(let key) = path[0], members.indices.contains(key), members[key].0 == "ops" else { return false }
        return true
    }

    mutating func modify(at path: ArraySlice<Step>, _ change: (inout FJSON) -> Void) {
        guard let step = path.first else { change(&self); return }
        switch (self, step) {
        case (.array(var elements), .index(let index)) where elements.indices.contains(index):
            elements[index].modify(at: path.dropFirst(), change)
            self = .array(elements)
        case (.object(var members), .key(let index)) where members.indices.contains(index):
            members[index].1.modify(at: path.dropFirst(), change)
            self = .object(members)
        default:
            change(&self)
        }
    }

    /// A small JSON parser for the corpus bodies (depth-limited; nil for anything it does not read).
    struct Parser {
        let bytes: [UInt8]
        var position = 0
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func parseDocument() -> FJSON? {
            guard let value = parseValue() else { return nil }
            skipSpace()
            return position == bytes.count ? value : nil
        }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func parseValue() -> FJSON? {
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case 0x7B:
                depth += 1
                defer { depth -= 1 }
                guard depth < 64 else { return nil }
                position += 1
                var members: [(String, FJSON)] = []
                skipSpace()
                if position < bytes.count, bytes[position] == 0x7D { position += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard case .string(let key)? = parseString() else { return nil }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == 0x3A else { return nil }
                    position += 1
                    guard let value = parseValue() else { return nil }
                    members.append((key, value))
                    skipSpace()
                    guard position < bytes.count else { return nil }
                    if bytes[position] == 0x2C { position += 1; continue }
                    if bytes[position] == 0x7D { position += 1; return .object(members) }
                    return nil
                }
            case 0x5B:
                depth += 1
                defer { depth -= 1 }
                guard depth < 64 else { return nil }
                position += 1
                var elements: [FJSON] = []
                skipSpace()
                if position < bytes.count, bytes[position] == 0x5D { position += 1; return .array(elements) }
                while true {
                    guard let value = parseValue() else { return nil }
                    elements.append(value)
                    skipSpace()
                    guard position < bytes.count else { return nil }
                    if bytes[position] == 0x2C { position += 1; continue }
                    if bytes[position] == 0x5D { position += 1; return .array(elements) }
                    return nil
                }
            case 0x22:
                return parseString()
            case 0x74 where bytes[position...].starts(with: Array("true".utf8)):
                position += 4
                return .bool(true)
            case 0x66 where bytes[position...].starts(with: Array("false".utf8)):
                position += 5
                return .bool(false)
            case 0x6E where bytes[position...].starts(with: Array("null".utf8)):
                position += 4
                return .null
            default:
                let start = position
                while position < bytes.count, Array("+-0123456789.eE".utf8).contains(bytes[position]) { position += 1 }
                guard position > start else { return nil }
                return .number(String(decoding: bytes[start..<position], as: UTF8.self))
            }
        }

        /// A string, read with Foundation so escapes are handled exactly.
        mutating func parseString() -> FJSON? {
            guard position < bytes.count, bytes[position] == 0x22 else { return nil }
            var end = position + 1
            while end < bytes.count, bytes[end] != 0x22 {
                if bytes[end] == 0x5C { end += 1 }
                end += 1
            }
            guard end < bytes.count else { return nil }
            let literal = Data(bytes[position...end])
            position = end + 1
            guard let text = try? JSONDecoder().decode(String.self, from: literal) else { return nil }
            return .string(text)
        }
    }
}

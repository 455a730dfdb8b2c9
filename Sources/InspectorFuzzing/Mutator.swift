import Foundation
import InspectorCore
import InspectorProtocol

/// The mutations.
enum Mutator {
    static let interestingBytes: [UInt8] = [0x00, 0xFF, 0x0A, 0x0D, 0x20, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x80, 0xC3, 0xE2, 0xED, 0xF4, 0x7F]

    static func mutateLine(_ bytes: inout [UInt8], random: inout SplitMix64, corpus: FuzzCorpus) {
        switch random.int(0...99) {
        case 0..<45: jsonMutation(&bytes, random: &random)
        default: byteMutation(&bytes, random: &random, others: corpus.lines)
        }
    }

    static func mutateBundle(_ bytes: inout [UInt8], random: inout SplitMix64, corpus: FuzzCorpus) {
        var lines = split(bytes)
        switch random.int(0...99) {
        case 0..<40:
            // Mutate one line (often an op line), then re-sign: fix the count and the digest, so the
            // reader gets past its checksum to the op checks.
            guard lines.count >= 2 else { byteMutation(&bytes, random: &random, others: corpus.bundles); return }
            let target = lines.count > 2 && random.chance(80) ? random.int(1...(lines.count - 2)) : random.int(0...(lines.count - 2))
            for _ in 0..<random.pick([1, 1, 2]) { mutateLine(&lines[target], random: &random, corpus: corpus) }
            if random.chance(15) { lines.insert(random.pick(lines.dropLast()), at: random.int(1...(lines.count - 1))) }
            if random.chance(10), lines.count > 2 { lines.remove(at: random.int(1...(lines.count - 2))) }
            bytes = resigned(Array(lines.dropLast()))
        case 40..<50:
            // Many op lines (a few thousand), re-signed.
            guard lines.count >= 3 else { byteMutation(&bytes, random: &random, others: corpus.bundles); return }
            let op = lines[1]
            let extra = random.chance(5) ? random.int(300...3000) : random.int(1...100)
            bytes = resigned([lines[0]] + [[UInt8]](repeating: op, count: extra))
        default:
            for _ in 0..<random.pick([1, 1, 2, 3]) { byteMutation(&bytes, random: &random, others: corpus.bundles) }
        }
    }

    /// Lines without their newlines; a last unterminated piece is kept as a line.
    static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        for byte in bytes {
            if byte == 0x0A { lines.append(current); current = [] } else { current.append(byte) }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// A bundle of these header and op lines with a correct trailer.
    static func resigned(_ lines: [[UInt8]]) -> [UInt8] {
        var body: [UInt8] = []
        for line in lines { body += line; body.append(0x0A) }
        let digest = SHA256Hex.of(body)
        body += Array("end {\"count\":\(max(0, lines.count - 1)),\"sha256\":\"\(digest)\"}\n".utf8)
        return body
    }

    static func byteMutation(_ bytes: inout [UInt8], random: inout SplitMix64, others: [[UInt8]]) {
        let count = bytes.count
        func position() -> Int { count == 0 ? 0 : random.int(0...(count - 1)) }
        switch random.int(0...9) {
        case 0 where count > 0:
            bytes[position()] ^= UInt8(1) << UInt8(random.int(0...7))
        case 1 where count > 0:
            bytes[position()] = random.chance(50) ? random.pick(interestingBytes) : UInt8.random(in: 0...255, using: &random)
        case 2:
            let length = random.pick([1, 1, 2, 4, 16, 200])
            let insert: [UInt8] = switch random.int(0...3) {
            case 0: [UInt8](repeating: 0x00, count: length)
            case 1: [UInt8](repeating: 0xFF, count: length)
            case 2: (0..<length).map { _ in random.pick(interestingBytes) }
            default: (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            bytes.insert(contentsOf: insert, at: count == 0 ? 0 : random.int(0...count))
        case 3 where count > 0:
            let start = position()
            let end = min(count, start + random.pick([1, 1, 2, 8, 64, count]))
            bytes.removeSubrange(start..<end)
        case 4:
            bytes = Array(bytes.prefix(count == 0 ? 0 : random.int(0...count)))
        case 5 where count > 0:
            let start = position()
            let end = min(count, start + random.int(1...max(1, min(count, 256))))
            let segment = Array(bytes[start..<end])
            let times = random.pick([1, 1, 2, 10])
            for _ in 0..<times { bytes.insert(contentsOf: segment, at: random.int(0...bytes.count)) }
        case 6 where !others.isEmpty:
            let other = random.pick(others)
            let cut = count == 0 ? 0 : random.int(0...count)
            let from = other.isEmpty ? 0 : random.int(0...other.count)
            bytes = Array(bytes.prefix(cut)) + Array(other.suffix(from: from))
        case 7:
            // A CR, a CRLF or a bare LF somewhere, or a CR at the end.
            let piece: [UInt8] = random.pick([[0x0D], [0x0D, 0x0A], [0x0A], [0x0D, 0x0D]])
            if random.chance(50) { bytes += piece } else { bytes.insert(contentsOf: piece, at: count == 0 ? 0 : random.int(0...count)) }
        case 8:
            // The verb: removed, uppercased, lengthened, or replaced.
            let space = bytes.firstIndex(of: 0x20) ?? 0
            let verb: [UInt8] = Array(random.pick(["hello", "welcome", "push", "pushed", "pull", "ops", "bye", "error", "op", "bundle", "end",
                                                  "", "PULL", "pul", String(repeating: "a", count: 33), String(repeating: "z", count: 32), "pull_", "x y"]).utf8)
            bytes = verb + Array(bytes[space...])
        default:
            if count > 0 { bytes[position()] = UInt8.random(in: 0...255, using: &random) }
        }
    }

    static func jsonMutation(_ bytes: inout [UInt8], random: inout SplitMix64) {
        guard let space = bytes.firstIndex(of: 0x20) else { bytes += Array(" {}".utf8); return }
        var bodyBytes = Array(bytes[(space + 1)...])
        var trailingCR = false
        if bodyBytes.last == 0x0D { bodyBytes.removeLast(); trailingCR = true }
        var parser = FJSON.Parser(bytes: bodyBytes)
        guard var body = parser.parseDocument() else {
            byteMutation(&bytes, random: &random, others: [])
            return
        }
        var paths: [[FJSON.Step]] = []
        body.collectPaths(prefix: [], into: &paths)
        // A third of the time, one member of one op (the shape rules live there).
        let opMembers = paths.filter { path in
            guard let last = path.last, case .key = last else { return false }
            return body.isOpMember(path)
        }
        if !opMembers.isEmpty && random.chance(35) {
            body.modify(at: random.pick(opMembers)[...]) { value in
                switch value {
                case .number: value = .number(random.pick(["0", "-1", "1", "2", "9223372036854775807", "-9223372036854775808"]))
                default: value = .string(random.pick(FJSON.specialStrings + FJSON.opStrings))
                }
            }
            bytes = Array(bytes[...space]) + body.serialized() + (trailingCR ? [0x0D] : [])
            return
        }
        // A depth first, then a node at that depth: top-level keys are mutated as often as deep ones.
        let depth = random.int(0...(paths.map(\.count).max() ?? 0))
        let path = random.pick(paths.filter { $0.count == depth })
        let kind = random.int(0...9)
        body.modify(at: path[...]) { value in
            switch kind {
            case 0, 1: value = FJSON.otherType(than: value, random: &random)
            case 2: value = .raw(Array(random.pick(FJSON.hugeNumbers).utf8))
            case 3: value = FJSON.nested(value, depth: random.pick([2, 16, 100, 513, 2000, 100_000]), random: &random)
            case 4: value = .raw(FJSON.longString(random: &random))
            case 5: value = .string(random.pick(FJSON.specialStrings))
            case 6:
                if case .object(var members) = value, !members.isEmpty {
                    members.remove(at: random.int(0...(members.count - 1)))
                    value = .object(members)
                } else {
                    value = .null
                }
            case 7:
                if case .object(var members) = value {
                    let key = random.pick(["zz_unknown", "", "d", "s", "ops", "cursor", "version", "plan", "pad", "k", "v"])
                    members.insert((key, FJSON.otherType(than: .null, random: &random)), at: random.int(0...members.count))
                    value = .object(members)
                } else {
                    value = .array([value, value])
                }
            case 8:
                if case .object(let members) = value, let first = members.first {
                    // A repeated key: first or last value may win.
                    value = .object(members + [(first.0, FJSON.otherType(than: first.1, random: &random))])
                } else if case .array(let elements) = value {
                    value = .array(elements + elements + elements)
                } else {
                    value = .raw(Array(random.pick(FJSON.hugeNumbers).utf8))
                }
            default:
                if case .array(var elements) = value, !elements.isEmpty {
                    elements.remove(at: random.int(0...(elements.count - 1)))
                    value = .array(elements)
                } else {
                    value = FJSON.otherType(than: value, random: &random)
                }
            }
        }
        bytes = Array(bytes[...space]) + body.serialized() + (trailingCR ? [0x0D] : [])
    }
}

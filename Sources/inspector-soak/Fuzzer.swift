import Foundation
import InspectorCore
import InspectorProtocol

// A seeded generator fuzzer for the line codec and the bundle reader.
//
// libFuzzer (`-sanitize=fuzzer`) does not fit SwiftPM test targets here, so this is a generator
// fuzzer instead: it starts from every `C:`/`S:` line of `Protocol/vectors/*.txt` and every
// `Protocol/vectors/*.bundle`, applies random mutations (bytes and JSON-aware), and feeds each
// input to `LineCodec.decode` and `BundleFile.decode`. Each case is wholly determined by
// `(seed, index)`, so any failure replays exactly.

/// SplitMix64: small, fast, and the same on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    public mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    public mutating func pick<T>(_ array: [T]) -> T { array[int(0...(array.count - 1))] }

    /// A seed derived from another and an index (for per-case and per-round generators).
    public static func derive(_ seed: UInt64, _ index: UInt64) -> UInt64 {
        var generator = SplitMix64(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        _ = generator.next()
        return generator.next()
    }
}

/// The inputs the fuzzer starts from.
public struct FuzzCorpus: Sendable {
    /// Protocol lines (without their newline), from the transcripts' `C:` and `S:` lines.
    public var lines: [[UInt8]]
    /// Bundle files.
    public var bundles: [[UInt8]]

    public init(lines: [[UInt8]], bundles: [[UInt8]]) {
        self.lines = lines
        self.bundles = bundles
    }

    /// The longest padding a `<pad-to:N>` expands to in the corpus (the attack tests send full-size lines).
    public static let maximumPad = 4096

    /// Reads every transcript and bundle of a vectors folder, in file-name order.
    ///
    /// Substitutions are made as the vectors' README says (`<token:ID>`, `<plan-digest>`, `<hub-time>`,
    /// `<cr>`, `<hex:HH>`, `<pad-to:N>` capped at ``maximumPad``); the `S:` matchers become values
    /// (`<any-int>` 0, `<any-string>` "x", `<plan>` the plan). `hub-op:`/`local-op:` objects become
    /// `op` and `push` lines too.
    public static func load(vectors folder: URL, plan: Plan) throws -> FuzzCorpus {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        var lines: [[UInt8]] = []
        var bundles: [[UInt8]] = []
        let planJSON = String(decoding: plan.encoded(), as: UTF8.self)
        for name in names {
            let url = folder.appendingPathComponent(name)
            if name.hasSuffix(".bundle") {
                bundles.append([UInt8](try Data(contentsOf: url)))
            } else if name.hasSuffix(".txt") {
                let text = try String(contentsOf: url, encoding: .utf8)
                for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
                    let line = String(raw)
                    if line.hasPrefix("hub-op: ") || line.hasPrefix("local-op: ") {
                        let object = line.drop(while: { $0 != " " }).dropFirst()
                        lines.append(Array("op \(object)".utf8))
                        lines.append(Array("push {\"ops\":[\(object)],\"withdrawn\":[]}".utf8))
                        continue
                    }
                    guard line.hasPrefix("C:") || line.hasPrefix("S:") else { continue }
                    var content = String(line.dropFirst(2))
                    if content.hasPrefix(" ") { content.removeFirst() }
                    if content.hasPrefix("<clos") || content == "<connect>" { continue }
                    lines.append(expand(content, plan: plan, planJSON: planJSON))
                }
            }
        }
        return FuzzCorpus(lines: lines, bundles: bundles)
    }

    /// A transcript line with its substitutions made.
    static func expand(_ text: String, plan: Plan, planJSON: String) -> [UInt8] {
        var out: [UInt8] = []
        var rest = Substring(text)
        var padAt: Int?
        var padTarget = 0
        while let open = rest.firstIndex(of: "<") {
            out += Array(rest[..<open].utf8)
            guard let close = rest[open...].firstIndex(of: ">") else { break }
            let tag = String(rest[rest.index(after: open)..<close])
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("token:") {
                out += Array(String(repeating: "5a", count: 32).utf8)
            } else if tag == "plan-digest" {
                out += Array(plan.digest.utf8)
            } else if tag == "hub-time" {
                out += Array("1718852523456".utf8)
            } else if tag == "cr" {
                out.append(0x0D)
            } else if tag.hasPrefix("hex:"), let byte = UInt8(tag.dropFirst(4), radix: 16) {
                out.append(byte)
            } else if tag.hasPrefix("pad-to:"), let target = Int(tag.dropFirst(7)) {
                padAt = out.count
                padTarget = min(target, maximumPad)
            } else if tag == "any-int" {
                out += Array("0".utf8)
            } else if tag == "any-string" {
                out += Array("\"x\"".utf8)
            } else if tag == "plan" {
                out += Array(planJSON.utf8)
            } else {
                out += Array("<\(tag)>".utf8)
            }
        }
        out += Array(rest.utf8)
        if let padAt {
            let missing = max(0, padTarget - out.count)
            out.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "x"), count: missing), at: padAt)
        }
        return out
    }
}

/// One input that broke a rule.
public struct FuzzFailure: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var index: Int
    public var target: String
    public var problem: String
    public var input: [UInt8]

    public var description: String {
        "case \(index) of seed \(seed) (\(target)): \(problem); input (\(input.count) bytes, base64): \(Data(input.prefix(4096)).base64EncodedString())"
    }
}

/// What a run did.
public struct FuzzReport: Sendable {
    public var cases = 0
    public var lineCases = 0
    public var bundleCases = 0
    /// Inputs that decoded to a message or a bundle (each then re-encoded and decoded again).
    public var decoded = 0
    /// Refusals by error code.
    public var refusals: [String: Int] = [:]
    public var failures: [FuzzFailure] = []
    /// The slowest cases: (index, duration, input size).
    public var slowest: [(index: Int, duration: Duration, bytes: Int)] = []

    public init() {}

    public mutating func add(_ other: FuzzReport) {
        cases += other.cases
        lineCases += other.lineCases
        bundleCases += other.bundleCases
        decoded += other.decoded
        for (code, count) in other.refusals { refusals[code, default: 0] += count }
        failures += other.failures
        slowest = Array((slowest + other.slowest).sorted { $0.duration > $1.duration }.prefix(5))
    }

    public var summary: String {
        let codes = refusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(cases) cases (\(lineCases) lines, \(bundleCases) bundles): \(decoded) decoded and round-tripped; refused: \(codes); \(failures.count) failures"
    }
}

/// The fuzzer.
public struct ProtocolFuzzer: Sendable {
    public let corpus: FuzzCorpus

    /// The codes `LineCodec.decode` may throw.
    public static let lineCodes: Set<String> = ["bad_line", "unknown_verb", "bad_message", "invalid_op"]
    /// The longest error message allowed: messages name what is wrong, never echo a payload.
    public static let maximumMessageBytes = 512

    public init(corpus: FuzzCorpus) {
        self.corpus = corpus
    }

    /// Runs cases `indices` of `seed`, stopping early at `deadline`.
    ///
    /// - Parameter starting: called with each case's index before it runs (the soak notes it in a file,
    ///   so that a crash names its case).
    public func run(seed: UInt64, cases indices: Range<Int>, until deadline: ContinuousClock.Instant? = nil,
                    starting: ((Int) -> Void)? = nil) -> FuzzReport {
        var report = FuzzReport()
        for index in indices {
            if let deadline, index % 64 == 0, ContinuousClock.now >= deadline { break }
            starting?(index)
            let started = ContinuousClock.now
            let (isBundle, input) = makeCase(seed: seed, index: index)
            report.cases += 1
            defer {
                let duration = ContinuousClock.now - started
                if report.slowest.count < 5 || duration > report.slowest[report.slowest.count - 1].duration {
                    report.slowest.append((index, duration, input.count))
                    report.slowest.sort { $0.duration > $1.duration }
                    if report.slowest.count > 5 { report.slowest.removeLast() }
                }
            }
            if isBundle {
                report.bundleCases += 1
                check(bundle: input, seed: seed, index: index, into: &report)
            } else {
                report.lineCases += 1
                check(line: input, seed: seed, index: index, into: &report)
            }
        }
        return report
    }

    /// The input of one case: a mutated line or a mutated bundle.
    public func makeCase(seed: UInt64, index: Int) -> (isBundle: Bool, input: [UInt8]) {
        var random = SplitMix64(seed: SplitMix64.derive(seed, UInt64(index)))
        let isBundle = !corpus.bundles.isEmpty && random.chance(25)
        if isBundle {
            var bytes = random.pick(corpus.bundles)
            Mutator.mutateBundle(&bytes, random: &random, corpus: corpus)
            return (true, bytes)
        }
        var bytes = random.pick(corpus.lines)
        let rounds = random.pick([1, 1, 1, 2, 2, 3, 4])
        for _ in 0..<rounds { Mutator.mutateLine(&bytes, random: &random, corpus: corpus) }
        return (false, bytes)
    }

    /// Checks one line: decode never crashes; it returns a message that survives encode → decode, or
    /// throws a known code with a short message.
    public func check(line: [UInt8], seed: UInt64 = 0, index: Int = 0, into report: inout FuzzReport) {
        func fail(_ problem: String) {
            report.failures.append(FuzzFailure(seed: seed, index: index, target: "LineCodec.decode", problem: problem, input: line))
        }
        let message: Message
        do {
            message = try LineCodec.decode(line)
        } catch {
            report.refusals[error.code.rawValue, default: 0] += 1
            if !Self.lineCodes.contains(error.code.rawValue) { fail("threw the unexpected code '\(error.code)'") }
            if error.message.utf8.count > Self.maximumMessageBytes { fail("an error message of \(error.message.utf8.count) bytes") }
            if error.sequence != nil && error.code != .badMessage && error.code != .invalidOp { fail("a '\(error.code)' error carries a seq") }
            return
        }
        report.decoded += 1
        let encoded = LineCodec.encode(message)
        guard encoded.last == 0x0A, !encoded.dropLast().contains(0x0A) else {
            fail("the re-encoded line holds a newline inside it")
            return
        }
        var verb = Array(line.prefix(while: { $0 != UInt8(ascii: " ") }))
        if verb.last == 0x0D { verb.removeLast() }
        if String(decoding: verb, as: UTF8.self) != message.verb { fail("decoded as '\(message.verb)' from another verb") }
        do {
            let again = try LineCodec.decode(encoded.dropLast())
            if again != message { fail("decode(encode(m)) != m for a '\(message.verb)' message") }
        } catch {
            fail("the re-encoded '\(message.verb)' message does not decode: \(error)")
        }
    }

    /// Checks one bundle file: decode never crashes; it returns a bundle that survives encode → decode,
    /// or throws `bad_bundle`.
    public func check(bundle: [UInt8], seed: UInt64 = 0, index: Int = 0, into report: inout FuzzReport) {
        func fail(_ problem: String) {
            report.failures.append(FuzzFailure(seed: seed, index: index, target: "BundleFile.decode", problem: problem, input: bundle))
        }
        let decoded: BundleFile
        do {
            decoded = try BundleFile.decode(Data(bundle))
        } catch {
            report.refusals[error.code.rawValue, default: 0] += 1
            if error.code != .badBundle { fail("threw '\(error.code)' instead of bad_bundle") }
            if error.message.utf8.count > Self.maximumMessageBytes { fail("an error message of \(error.message.utf8.count) bytes") }
            return
        }
        report.decoded += 1
        do {
            let again = try BundleFile.decode(decoded.encoded())
            if again != decoded { fail("decode(encode(b)) != b") }
        } catch {
            fail("the re-encoded bundle does not decode: \(error)")
        }
    }
}

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

// Reading and comparing the transcript test vectors of `Protocol/vectors/`.
//
// The format is documented in `Protocol/vectors/README.md`. The hub's and the device's replay tests
// both use this file through `@testable import InspectorTestSupport`.

import Foundation

// MARK: - Locating the vectors

enum Vectors {
    /// `Protocol/vectors/`, found from this file's path.
    static let directory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("Protocol/vectors", isDirectory: true)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        fatalError("Protocol/vectors not found above \(#filePath)")
    }()

    /// Every file of the folder except the README, sorted (not `keys/`, which KeyVectorTests replays).
    static var allFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        // `keys/`, `chain/` and `attachments/` are replayed by their own tests; `tools/` generates vectors.
        return names.filter { !["README.md", "keys", "chain", "attachments", "tools"].contains($0) && !$0.hasPrefix(".") }.sorted()
    }

    /// The transcripts (`*.txt`).
    static var transcripts: [String] { allFiles.filter { $0.hasSuffix(".txt") } }

    /// The bundle files (`*.bundle`).
    static var bundles: [String] { allFiles.filter { $0.hasSuffix(".bundle") } }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    static func transcript(_ name: String) throws -> Transcript {
        try Transcript(name: name, text: String(decoding: data(name), as: UTF8.self))
    }
}

/// What a bundle vector is expected to do when imported into a fresh replica of the built-in plan.
struct BundleExpectation: Sendable {
    /// Operations applied by a successful import, or nil when the import must fail.
    var applied: Int?
    /// The error code a failing import throws (`bad_bundle`, or a plan refusal).
    var errorCode: String?
    /// A fragment the error message must contain (names the line at fault).
    var messageContains: String?
}

/// The bundle vectors and what each must do; `Protocol/vectors/README.md` lists the same table.
let bundleExpectations: [String: BundleExpectation] = [
    "bundle-valid.bundle": .init(applied: 4),
    "bundle-empty.bundle": .init(applied: 0),
    "bundle-crlf.bundle": .init(applied: 1),
    "bundle-cut.bundle": .init(errorCode: "bad_bundle", messageContains: "the 'end' trailer is missing after line 3"),
    "bundle-cut-at-line.bundle": .init(errorCode: "bad_bundle", messageContains: "the 'end' trailer is missing after line 3"),
    "bundle-altered.bundle": .init(errorCode: "bad_bundle", messageContains: "bundle line 7: the digest does not match"),
    "bundle-bad-count.bundle": .init(errorCode: "bad_bundle", messageContains: "bundle line 7: the trailer counts 3 operations but the bundle holds 4"),
    "bundle-bad-op.bundle": .init(errorCode: "bad_bundle", messageContains: "bundle line 3:"),
    "bundle-wrong-version.bundle": .init(errorCode: "bad_bundle", messageContains: "bundle line 1: bundle version 1 carries no signatures"),
    "bundle-invalid-value.bundle": .init(errorCode: "invalid_value", messageContains: "fund_percent"),
    "bundle-other-plan.bundle": .init(errorCode: "bad_bundle", messageContains: "the bundle follows plan 'kh-9999-2030'"),
    "bundle-altered-resigned.bundle": .init(errorCode: "bad_signature", messageContains: "dev-a#1–#4 do not lead to the chain head"),
    "bundle-dropped-op.bundle": .init(errorCode: "bad_signature", messageContains: "dev-a#2 is missing"),
    "bundle-forged-author.bundle": .init(errorCode: "bad_signature", messageContains: "'dev-b' are signed by the key"),
    "bundle-no-head.bundle": .init(errorCode: "bad_bundle", messageContains: "dev-a#1 has no signed head"),
    "bundle-gaps.bundle": .init(applied: 3),
    "bundle-two-authors.bundle": .init(applied: 5),
    "bundle-unknown-author.bundle": .init(errorCode: "unknown_author", messageContains: "dev-c"),
]

/// The keys a bundle's importer knows in the replays (`Protocol/vectors/README.md`): dev-a's and
/// dev-b's, the PEM files of `keys/`.
enum VectorKeys {
    static func privateKeyPEM(_ device: String) throws -> String {
        try String(decoding: Vectors.data("keys/\(device == "dev-a" ? "device-a" : "device-b").pem"), as: UTF8.self)
    }
    static let authors = ["dev-a", "dev-b"]
}

// MARK: - JSON as the vectors compare it

/// A JSON value with key order kept, numbers kept as their text, and the matchers of S: lines.
indirect enum VJSON: CustomStringConvertible {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([VJSON])
    case object([(String, VJSON)])
    /// `<any-int>`, `<any-string>`, `<hub-time>`, `<plan>`: a matcher standing for a whole value.
    case matcher(String)

    /// Compact JSON text (strings escaped minimally).
    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let text): return text
        case .string(let text): return VJSON.quote(text)
        case .array(let values): return "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let members): return "{" + members.map { VJSON.quote($0.0) + ":" + $0.1.description }.joined(separator: ",") + "}"
        case .matcher(let name): return "<\(name)>"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    subscript(key: String) -> VJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    var intValue: Int64? {
        guard case .number(let text) = self else { return nil }
        return Int64(text)
    }

    var stringValue: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }

    var arrayValue: [VJSON]? {
        guard case .array(let values) = self else { return nil }
        return values
    }

    var objectValue: [(String, VJSON)]? {
        guard case .object(let members) = self else { return nil }
        return members
    }

    /// The members without `key`.
    func removing(_ key: String) -> VJSON {
        guard case .object(let members) = self else { return self }
        return .object(members.filter { $0.0 != key })
    }
}

struct VJSONError: Error, CustomStringConvertible {
    var description: String
}

/// A strict JSON parser (RFC 8259) that also accepts bare matchers `<name>` as values when asked.
struct VJSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private let allowMatchers: Bool

    static func parse(_ text: some Collection<UInt8>, allowMatchers: Bool = false) throws -> VJSON {
        var parser = VJSONParser(bytes: Array(text), allowMatchers: allowMatchers)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw VJSONError(description: "trailing bytes after the JSON value") }
        return value
    }

    private init(bytes: [UInt8], allowMatchers: Bool) {
        self.bytes = bytes
        self.allowMatchers = allowMatchers
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private func fail(_ why: String) -> VJSONError { VJSONError(description: "\(why) at byte \(index)") }

    private mutating func expect(_ literal: String) throws {
        let want = Array(literal.utf8)
        guard index + want.count <= bytes.count, Array(bytes[index..<index + want.count]) == want else { throw fail("expected \(literal)") }
        index += want.count
    }

    private mutating func value() throws -> VJSON {
        guard index < bytes.count else { throw fail("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [(String, VJSON)] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try string()
                guard !members.contains(where: { $0.0 == key }) else { throw fail("duplicate key '\(key)'") }
                skipWhitespace()
                try expect(":")
                skipWhitespace()
                members.append((key, try value()))
                skipWhitespace()
                guard index < bytes.count else { throw fail("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw fail("expected , or }")
            }
        case UInt8(ascii: "["):
            index += 1
            var values: [VJSON] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(values) }
            while true {
                skipWhitespace()
                values.append(try value())
                skipWhitespace()
                guard index < bytes.count else { throw fail("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(values) }
                throw fail("expected , or ]")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "<") where allowMatchers:
            guard let end = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else { throw fail("unterminated matcher") }
            let name = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
            index = end + 1
            return .matcher(name)
        default:
            return .number(try number())
        }
    }

    private mutating func number() throws -> String {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let isDigit = { (b: UInt8) in b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("expected a value") }
        if bytes[index] == UInt8(ascii: "0") { index += 1 } else { while index < bytes.count, isDigit(bytes[index]) { index += 1 } }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("expected a digit") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("expected a digit") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func string() throws -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() throws {
            guard !run.isEmpty else { return }
            guard let text = String(validating: run, as: UTF8.self) else { throw VJSONError(description: "string is not UTF-8") }
            scalars.append(contentsOf: text.unicodeScalars)
            run.removeAll()
        }
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                try flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush()
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                    scalars.append(scalar)
                default: throw fail("invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw fail("control character in a string") }
                run.append(byte)
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw fail("expected four hex digits")
        }
        index += 4
        return value
    }
}

// MARK: - Comparing

/// How matchers resolve in one replay.
struct MatchContext {
    /// The hub clock when the harness fixed it; `<hub-time>` must then equal it.
    var hubTime: Int64?
    /// Checks the value a `<plan>` matcher stands for; returns a problem, or nil.
    var checkPlan: (VJSON) -> String?
}

/// Compares an actual value against an expected one; returns the first difference, or nil.
///
/// Objects compare as sets of members (key order is not significant), arrays element by element,
/// numbers by their text, strings by their Unicode scalars (no normalization).
func difference(expected: VJSON, actual: VJSON, at path: String = "", context: MatchContext) -> String? {
    let here = path.isEmpty ? "the body" : "'\(path)'"
    switch (expected, actual) {
    case (.matcher(let name), _):
        switch name {
        case "any-int":
            return actual.intValue == nil ? "\(here): expected an integer, got \(actual)" : nil
        case "any-string":
            return actual.stringValue == nil ? "\(here): expected a string, got \(actual)" : nil
        case "hub-time":
            guard let value = actual.intValue else { return "\(here): expected the hub's time, got \(actual)" }
            if let fixed = context.hubTime, value != fixed { return "\(here): expected the hub's clock \(fixed), got \(value)" }
            return nil
        case "plan":
            guard case .object = actual else { return "\(here): expected the plan object, got \(actual.description.prefix(80))" }
            return context.checkPlan(actual).map { "\(here): \($0)" }
        default:
            return "\(here): unknown matcher <\(name)>"
        }
    case (.null, .null): return nil
    case (.bool(let a), .bool(let b)): return a == b ? nil : "\(here): expected \(a), got \(b)"
    case (.number(let a), .number(let b)): return a == b ? nil : "\(here): expected \(a), got \(b)"
    case (.string(let a), .string(let b)):
        return Array(a.unicodeScalars) == Array(b.unicodeScalars) ? nil : "\(here): expected \(VJSON.quote(a)), got \(VJSON.quote(b))"
    case (.array(let a), .array(let b)):
        guard a.count == b.count else { return "\(here): expected \(a.count) elements, got \(b.count)" }
        for (index, (x, y)) in zip(a, b).enumerated() {
            if let problem = difference(expected: x, actual: y, at: path.isEmpty ? "\(index)" : "\(path).\(index)", context: context) { return problem }
        }
        return nil
    case (.object(let a), .object(let b)):
        for (key, value) in a {
            guard let other = b.first(where: { $0.0 == key })?.1 else { return "\(here): missing key '\(key)'" }
            if let problem = difference(expected: value, actual: other, at: path.isEmpty ? key : "\(path).\(key)", context: context) { return problem }
        }
        for (key, _) in b where !a.contains(where: { $0.0 == key }) { return "\(here): unexpected key '\(key)'" }
        return nil
    default:
        return "\(here): expected \(expected.description.prefix(120)), got \(actual.description.prefix(120))"
    }
}

/// Splits a protocol line into its verb and body bytes (no checks beyond the space).
func splitLine(_ line: [UInt8]) -> (verb: String, body: ArraySlice<UInt8>)? {
    guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return nil }
    return (String(decoding: line[..<space], as: UTF8.self), line[(space + 1)...])
}

/// An expected line and an actual one, split and parsed, or why they cannot be compared.
enum ParsedPair {
    case parsed((verb: String, expected: VJSON, actual: VJSON, shown: String))
    case problem(String)
}

/// Splits and parses an expected line (matchers allowed) and an actual one (strict JSON).
func parsePair(expected: String, actual: [UInt8]) -> ParsedPair {
    let shown = String(decoding: actual.prefix(300), as: UTF8.self)
    guard let (verb, body) = splitLine(Array(expected.utf8)) else { return .problem("the vector's line has no verb: \(expected)") }
    guard let (actualVerb, actualBody) = splitLine(actual) else { return .problem("expected '\(verb) …', got a line without a space: \(shown)") }
    guard verb == actualVerb else { return .problem("expected verb '\(verb)', got '\(actualVerb)': \(shown)") }
    let expectedValue: VJSON
    do { expectedValue = try VJSONParser.parse(body, allowMatchers: true) } catch {
        return .problem("the vector's line does not parse (\(error)): \(expected)")
    }
    let actualValue: VJSON
    do { actualValue = try VJSONParser.parse(actualBody) } catch {
        return .problem("the line's body is not strict JSON (\(error)): \(shown)")
    }
    return .parsed((verb, expectedValue, actualValue, shown))
}

/// Compares an actual line (without its `\n`) with the expected text of an `S:` or `C:` line whose
/// substitutions are already expanded. Returns the first difference, or nil.
///
/// - Parameter ignoring: top-level keys of the body not compared (the client replay ignores `hello.time`).
func lineDifference(expected: String, actual: [UInt8], context: MatchContext, ignoring: Set<String> = []) -> String? {
    let (verb, expectedValue, actualValue, shown): (String, VJSON, VJSON, String)
    switch parsePair(expected: expected, actual: actual) {
    case .parsed(let parsed): (verb, expectedValue, actualValue, shown) = parsed
    case .problem(let problem): return problem
    }
    var e = expectedValue, a = actualValue
    for key in ignoring { e = e.removing(key); a = a.removing(key) }
    return difference(expected: e, actual: a, context: context).map { "\(verb): \($0)\n  expected: \(expected.prefix(400))\n  actual:   \(shown)" }
}

/// The stream compression a `welcome` line chooses (its `compress` key), or nil for any other line.
///
/// After such a welcome, the rest of the connection's `C:`/`S:` lines are the lines inside the
/// compressed streams (`Protocol/vectors/README.md`, "Compression").
func negotiatedCompression(_ line: String) -> String? {
    guard let (verb, body) = splitLine(Array(line.utf8)), verb == "welcome",
          let value = try? VJSONParser.parse(body, allowMatchers: true) else { return nil }
    return value["compress"]?.stringValue
}

// MARK: - What a device sends (device-side replay)

/// Compares a line a device sent with a transcript's `C:` line (substitutions expanded), as the
/// device-side replay does (`Protocol/vectors/README.md`, "What a device must send"). Returns the
/// first difference, or nil.
///
/// Bodies compare as JSON values (key order free, strings by Unicode scalars), and a device may
/// leave out the optional members of version 1, or send them with other allowed values:
///
/// - `hello`: `time` is the device's clock, any integer; `plan_digest` may be absent (or any 64
///   lowercase hex digits: the fake hub then sends the plan, see ``adaptedWelcome(_:hello:hubDigest:)``);
///   `compress` may be absent or any array of strings (the fake hub leaves out a choice the device did not offer).
/// - `push`: `withdrawn` is a set (order free); absent or `null` is `[]`. The ops must be the
///   transcript's, in its order, each compared as a JSON object.
/// - `pull`: `limit` may be absent or any integer; `held_back` may be absent or any well-formed report.
/// - In every object, an optional member set to `null` counts as absent (PROTOCOL.md 3.5).
///
/// Any other member must be present and equal, and a device may send no member the transcript's
/// line and version 1 do not define.
func deviceLineDifference(expected: String, actual: [UInt8], context: MatchContext) -> String? {
    let (verb, expectedValue, actualValue, shown): (String, VJSON, VJSON, String)
    switch parsePair(expected: expected, actual: actual) {
    case .parsed(let parsed): (verb, expectedValue, actualValue, shown) = parsed
    case .problem(let problem): return problem
    }
    let problem: String?
    if case .object(let e) = expectedValue, case .object(let a) = actualValue {
        problem = deviceBodyDifference(verb: verb, expected: e, actual: a, context: context)
    } else {
        problem = difference(expected: expectedValue, actual: actualValue, context: context)
    }
    return problem.map { "\(verb): \($0)\n  expected: \(expected.prefix(400))\n  actual:   \(shown)" }
}

/// The optional members a device may add to, or leave out of, each message it sends in version 1.
let deviceOptionalMembers: [String: Set<String>] = [
    "hello": ["plan_digest", "compress"],
    "push": ["withdrawn", "head"],
    "pull": ["limit", "held_back"],
]

/// A member's value, with `null` read as absent (PROTOCOL.md 3.5).
private func present(_ members: [(String, VJSON)], _ key: String) -> VJSON? {
    guard let value = members.first(where: { $0.0 == key })?.1 else { return nil }
    if case .null = value { return nil }
    return value
}

private func deviceBodyDifference(verb: String, expected: [(String, VJSON)], actual: [(String, VJSON)],
                                  context: MatchContext) -> String? {
    let optional = deviceOptionalMembers[verb] ?? []
    for (key, _) in actual where !expected.contains(where: { $0.0 == key }) && !optional.contains(key) {
        return "unexpected key '\(key)'"
    }
    var keys = expected.map(\.0)
    for key in optional.sorted() where !keys.contains(key) { keys.append(key) }
    for key in keys {
        let e = present(expected, key), a = present(actual, key)
        if let problem = deviceMemberDifference(verb: verb, key: key, expected: e, actual: a, context: context) {
            return problem
        }
    }
    return nil
}

private func deviceMemberDifference(verb: String, key: String, expected: VJSON?, actual: VJSON?,
                                    context: MatchContext) -> String? {
    let here = "'\(key)'"
    switch (verb, key) {
    case ("hello", "time"):
        return actual?.intValue == nil ? "\(here): expected the device's clock as an integer, got \(actual?.description ?? "nothing")" : nil
    case ("hello", "plan_digest"):
        guard let actual else { return nil }
        guard let digest = actual.stringValue, digest.utf8.count == 64,
              digest.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return "\(here): expected 64 lowercase hex digits, got \(actual.description.prefix(80))"
        }
        return nil
    case ("hello", "compress"):
        guard let actual else { return nil }
        guard let names = actual.arrayValue, names.allSatisfy({ $0.stringValue != nil }) else {
            return "\(here): expected an array of strings, got \(actual.description.prefix(80))"
        }
        return nil
    case ("push", "withdrawn"):
        let want = expected?.arrayValue ?? []
        var got: [VJSON] = []
        if let actual {
            guard let array = actual.arrayValue, array.allSatisfy({ $0.intValue != nil }) else {
                return "\(here): expected an array of integers, got \(actual.description.prefix(80))"
            }
            got = array
        }
        let wantSet = Set(want.compactMap(\.intValue)), gotSet = Set(got.compactMap(\.intValue))
        guard wantSet == gotSet, gotSet.count == got.count else {
            return "\(here): expected the sequence numbers \(wantSet.sorted()) (in any order, each once), got \(VJSON.array(got).description.prefix(120))"
        }
        return nil
    case ("push", "ops"):
        guard let want = expected?.arrayValue else { return "the vector's push has no 'ops' array" }
        guard let got = actual?.arrayValue else { return "\(here): expected an array of ops, got \(actual?.description.prefix(80) ?? "nothing")" }
        guard want.count == got.count else { return "\(here): expected \(want.count) ops, got \(got.count)" }
        for (index, (w, g)) in zip(want, got).enumerated() {
            if let problem = difference(expected: withoutNulls(w), actual: withoutNulls(g), at: "ops.\(index)", context: context) { return problem }
        }
        return nil
    case ("push", "head"):
        // The device's signed chain head (PROTOCOL.md 19.3): its signature differs at every run, and
        // the fake hub does not check it; the live hub's tests do.
        guard let actual else { return nil }
        return actual.objectValue == nil ? "\(here): expected a signed head object, got \(actual.description.prefix(80))" : nil
    case ("pull", "limit"):
        guard let actual else { return nil }
        return actual.intValue == nil ? "\(here): expected an integer, got \(actual.description.prefix(80))" : nil
    case ("pull", "held_back"):
        guard let actual else { return nil }
        return heldBackReportProblem(actual).map { "\(here): \($0)" }
    default:
        guard let expected else { return actual == nil ? nil : "unexpected key '\(key)'" }
        guard let actual else { return "missing key '\(key)'" }
        return difference(expected: expected, actual: actual, at: key, context: context)
    }
}

/// An object without its `null` members (an op's absent `i`, `f`, `n`, `fk` may be written `null`).
private func withoutNulls(_ value: VJSON) -> VJSON {
    guard case .object(let members) = value else { return value }
    return .object(members.filter { if case .null = $0.1 { return false } else { return true } })
}

/// What is wrong with a `pull.held_back` report (PROTOCOL.md 4.5), or nil.
func heldBackReportProblem(_ value: VJSON) -> String? {
    guard case .object = value, let count = value["count"]?.intValue, count >= 0, let ops = value["ops"]?.arrayValue else {
        return "expected {\"count\": N ≥ 0, \"ops\": […]}, got \(value.description.prefix(120))"
    }
    guard ops.count <= 100, ops.count <= count else { return "lists \(ops.count) ops for a count of \(count) (at most 100, at most the count)" }
    for op in ops {
        guard op["d"]?.stringValue != nil, op["s"]?.intValue != nil, op["code"]?.stringValue != nil, op["message"]?.stringValue != nil else {
            return "an entry is not {\"d\", \"s\", \"code\", \"message\"}: \(op.description.prefix(120))"
        }
    }
    return nil
}

/// The `welcome` a fake hub sends in a device-side replay: the transcript's, adapted to the `hello`
/// the device actually sent, as a hub would answer it (PROTOCOL.md 9.4, 18.2):
///
/// - when the device's `hello` carries no `plan_digest`, or another one than `hubDigest`, and the
///   transcript's welcome has no `plan`, the plan is added (as `<plan>`, filled in by the caller);
/// - when the transcript's welcome chooses a compression the device did not offer, the choice is
///   left out, and the conversation goes on in plain lines.
///
/// - Parameters:
///   - line: the transcript's welcome line, substitutions expanded (matchers such as `<plan>` kept).
///   - hello: the body of the hello the device sent.
/// - Returns: the line unchanged when nothing needs adapting.
func adaptedWelcome(_ line: [UInt8], hello: VJSON?, hubDigest: String) -> [UInt8] {
    guard let (verb, body) = splitLine(line), verb == "welcome",
          case .object(var members)? = try? VJSONParser.parse(body, allowMatchers: true) else { return line }
    var changed = false
    let offered = hello.flatMap { present(helloMembers($0), "compress")?.arrayValue }?.compactMap(\.stringValue) ?? []
    if let chosen = present(members, "compress")?.stringValue, !offered.contains(chosen) {
        members.removeAll { $0.0 == "compress" }
        changed = true
    }
    let digest = hello.flatMap { present(helloMembers($0), "plan_digest")?.stringValue }
    if digest != hubDigest, present(members, "plan") == nil {
        members.removeAll { $0.0 == "plan" }
        members.append(("plan", .matcher("plan")))
        changed = true
    }
    guard changed else { return line }
    return Array(("welcome " + VJSON.object(members).description).utf8)
}

private func helloMembers(_ hello: VJSON) -> [(String, VJSON)] {
    guard case .object(let members) = hello else { return [] }
    return members
}

// MARK: - Transcripts

/// A transcript vector: the setup, then the lines each side sends.
struct Transcript: Sendable {
    struct Device: Sendable {
        var id: String
        var units: [String]
        var name: String?
    }

    enum Step: Sendable, Equatable {
        /// `C: line` — the client sends the line (macros unexpanded).
        case send(String)
        /// `S: line` — the hub's next line.
        case expect(String)
        /// `S: <closed>` — the hub closes the connection.
        case expectClosed
        /// `C: <close>` — the client closes the connection.
        case close
        /// `C: <connect>` — the client opens a new connection.
        case connect
    }

    struct ClientReplay: Sendable {
        var device: String
        var batchSize: Int
    }

    var name: String
    var plan = "kh-1181-2024"
    var hubClock: Int64?
    var devices: [Device] = []
    var revoked: [String] = []
    /// Units added to the hub, as JSON objects.
    var units: [String] = []
    /// Operations the hub holds before the first connection, as JSON op objects, in log order.
    var hubOps: [String] = []
    /// The device replica's own operations before the sync (client replay only).
    var localOps: [String] = []
    var clientReplay: ClientReplay?
    var steps: [Step] = []
    /// The 1-based line number of each step in the file.
    var stepLines: [Int] = []

    init(name: String, text: String) throws {
        self.name = name
        var inBody = false
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            func fail(_ why: String) -> VJSONError { VJSONError(description: "\(name):\(number + 1): \(why)") }
            if line.hasPrefix("#") || line.allSatisfy(\.isWhitespace) { continue }
            if line.hasPrefix("C:") || line.hasPrefix("S:") {
                inBody = true
                let content = line.dropFirst(2).hasPrefix(" ") ? String(line.dropFirst(3)) : String(line.dropFirst(2))
                stepLines.append(number + 1)
                switch (line.first!, content) {
                case ("C", "<close>"): steps.append(.close)
                case ("C", "<connect>"): steps.append(.connect)
                case ("C", _): steps.append(.send(content))
                case ("S", "<closed>"): steps.append(.expectClosed)
                default: steps.append(.expect(content))
                }
                continue
            }
            guard !inBody else { throw fail("after the first C:/S: line, only C:, S:, comments and blank lines may follow") }
            guard let colon = line.firstIndex(of: ":") else { throw fail("a header line is 'key: value'") }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "plan": plan = value
            case "hub-clock":
                guard let clock = Int64(value) else { throw fail("hub-clock takes an integer") }
                hubClock = clock
            case "device":
                var words = value.split(separator: " ").map(String.init)
                guard !words.isEmpty else { throw fail("device: ID units=U1,U2 [name=NAME]") }
                var device = Device(id: words.removeFirst(), units: [], name: nil)
                for word in words {
                    if word.hasPrefix("units=") { device.units = word.dropFirst(6).split(separator: ",").map(String.init) }
                    else if word.hasPrefix("name=") { device.name = word.dropFirst(5).replacingOccurrences(of: "_", with: " ") }
                    else { throw fail("unknown device attribute '\(word)'") }
                }
                devices.append(device)
            case "revoke": revoked.append(value)
            case "unit": units.append(value)
            case "hub-op": hubOps.append(value)
            case "local-op": localOps.append(value)
            case "client-replay":
                var words = value.split(separator: " ").map(String.init)
                guard !words.isEmpty else { throw fail("client-replay: DEVICE [batch-size=N]") }
                var replay = ClientReplay(device: words.removeFirst(), batchSize: 1000)
                for word in words {
                    guard word.hasPrefix("batch-size="), let size = Int(word.dropFirst(11)) else { throw fail("unknown client-replay attribute '\(word)'") }
                    replay.batchSize = size
                }
                clientReplay = replay
            default:
                throw fail("unknown header key '\(key)'")
            }
        }
    }
}

/// The substitutions of C: and S: lines: `<token:ID>`, `<plan-digest>`, `<cr>`, `<hex:HH>`,
/// `<pad-to:N>`; and, in S: lines, `<hub-time>` when the hub's clock is fixed.
struct Substitutions {
    var tokens: [String: String]
    var planDigest: String
    var hubTime: Int64?

    /// Expands a line into the bytes to send (without the `\n`).
    func bytes(_ template: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var padAt: (index: Int, target: Int)?
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "<") {
            out += Array(rest[..<open].utf8)
            guard let close = rest[open...].firstIndex(of: ">") else { out += Array(rest[open...].utf8); rest = ""; break }
            let name = String(rest[rest.index(after: open)..<close])
            if name.hasPrefix("token:") {
                let device = String(name.dropFirst(6))
                guard let token = tokens[device] else { throw VJSONError(description: "no token for device '\(device)'") }
                out += Array(token.utf8)
            } else if name == "plan-digest" {
                out += Array(planDigest.utf8)
            } else if name == "hub-time", let hubTime {
                out += Array(String(hubTime).utf8)
            } else if name == "cr" {
                out.append(0x0D)
            } else if name.hasPrefix("hex:"), let byte = UInt8(name.dropFirst(4), radix: 16) {
                out.append(byte)
            } else if name.hasPrefix("pad-to:"), let target = Int(name.dropFirst(7)) {
                guard padAt == nil else { throw VJSONError(description: "one <pad-to:N> per line") }
                padAt = (out.count, target)
            } else {
                out += Array(rest[open...close].utf8)
            }
            rest = rest[rest.index(after: close)...]
        }
        out += Array(rest.utf8)
        if let (index, target) = padAt {
            guard target >= out.count else { throw VJSONError(description: "<pad-to:\(target)>: the line is already \(out.count) bytes") }
            out.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "x"), count: target - out.count), at: index)
        }
        return out
    }

    /// Expands the substitutions of an expected line, leaving the matchers.
    func text(_ template: String) throws -> String {
        String(decoding: try bytes(template), as: UTF8.self)
    }
}

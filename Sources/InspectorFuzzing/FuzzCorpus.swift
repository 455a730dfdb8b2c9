import Foundation
import InspectorCore
import InspectorProtocol

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

import Foundation
import InspectorCore
import InspectorProtocol

// A seeded generator fuzzer for the line codec and the bundle reader.
//
// It starts from every `C:`/`S:` line of `Protocol/vectors/*.txt` and every
// `Protocol/vectors/*.bundle`, applies random mutations (bytes and JSON-aware), and feeds each
// input to `LineCodec.decode` and `BundleFile.decode`. Each case is wholly determined by
// `(seed, index)`, so any failure replays exactly. The same checks are the body of the libFuzzer
// target in `Fuzz/` (coverage-guided, built with `-sanitize=fuzzer`).

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

    /// Checks one input in the libFuzzer target's form (`Fuzz/crashes/README.md`): a first byte `B`
    /// makes the rest a bundle file, `L` makes the rest a protocol line, any other first byte makes
    /// the whole input a line.
    public func check(fuzzInput input: [UInt8], into report: inout FuzzReport) {
        switch input.first {
        case UInt8(ascii: "B"): check(bundle: Array(input.dropFirst()), into: &report)
        case UInt8(ascii: "L"): check(line: Array(input.dropFirst()), into: &report)
        default: check(line: input, into: &report)
        }
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
        // The hand-written reader of push and ops lines (a fast path) agrees with the full reader.
        do {
            if try LineCodec.decodeInFull(line) != message { fail("the fast path and the full reader read a '\(message.verb)' line differently") }
        } catch {
            fail("a '\(message.verb)' line read by the fast path is refused by the full reader (\(error.code))")
        }
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
    /// or throws `bad_bundle` (or `bad_signature`, for ops that do not verify against their signed head).
    public func check(bundle: [UInt8], seed: UInt64 = 0, index: Int = 0, into report: inout FuzzReport) {
        func fail(_ problem: String) {
            report.failures.append(FuzzFailure(seed: seed, index: index, target: "BundleFile.decode", problem: problem, input: bundle))
        }
        let decoded: BundleFile
        do {
            decoded = try BundleFile.decode(Data(bundle))
        } catch {
            report.refusals[error.code.rawValue, default: 0] += 1
            // A damaged bundle is bad_bundle; a well-formed one whose ops do not verify, bad_signature.
            if error.code != .badBundle && error.code != .badSignature { fail("threw '\(error.code)' instead of bad_bundle or bad_signature") }
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

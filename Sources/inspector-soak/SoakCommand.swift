import Foundation
import InspectorCore
import InspectorFuzzing
import InspectorPlans

/// `inspector-soak`: rounds of live sync with cuts, clock skew and hub restarts, and the protocol
/// fuzzer in between, until the time is up. Exits non-zero on any divergence or fuzzer failure.
///
/// ```text
/// swift run -c release inspector-soak --minutes 10 [--seed N]
/// swift run inspector-soak --round SEED          # replays one round (its seed is printed per round)
/// swift run inspector-soak --fuzz-seed S --fuzz-case I   # replays one fuzzer case
/// ```
public enum SoakCommand {
    public struct Options {
        public var minutes: Double = 10
        public var seed: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000)
        /// Seconds of fuzzing after each round.
        public var fuzzSeconds: Double = 4
        public var round: UInt64?
        public var fuzzSeed: UInt64?
        public var fuzzCase: Int?
        public var fuzzCases: Int?
        public var vectors: URL?
        public var folder: URL = FileManager.default.temporaryDirectory.appendingPathComponent("inspector-soak-\(getpid())")

        static let usage = """
            usage: inspector-soak [--minutes M] [--seed N] [--fuzz-seconds S] [--vectors DIR] [--dir DIR]
                   inspector-soak --round SEED            (replay one round)
                   inspector-soak --fuzz-seed S --fuzz-case I   (replay one fuzzer case)
                   inspector-soak --fuzz-seed S --fuzz-cases N  (run cases 0..<N of a seed)
            """

        public static func parse(_ arguments: [String]) throws -> Options {
            var options = Options()
            var rest = arguments.dropFirst()
            func value(_ name: String) throws -> String {
                guard let value = rest.popFirst() else { throw UsageError(message: "\(name) needs a value\n\(usage)") }
                return value
            }
            while let argument = rest.popFirst() {
                switch argument {
                case "--minutes": options.minutes = try Double(value(argument)).orThrow(argument)
                case "--seed": options.seed = try UInt64(value(argument)).orThrow(argument)
                case "--fuzz-seconds": options.fuzzSeconds = try Double(value(argument)).orThrow(argument)
                case "--round": options.round = try UInt64(value(argument)).orThrow(argument)
                case "--fuzz-seed": options.fuzzSeed = try UInt64(value(argument)).orThrow(argument)
                case "--fuzz-case": options.fuzzCase = try Int(value(argument)).orThrow(argument)
                case "--fuzz-cases": options.fuzzCases = try Int(value(argument)).orThrow(argument)
                case "--vectors": options.vectors = URL(fileURLWithPath: try value(argument))
                case "--dir": options.folder = URL(fileURLWithPath: try value(argument))
                case "-h", "--help": throw UsageError(message: usage)
                default: throw UsageError(message: "unknown argument '\(argument)'\n\(usage)")
                }
            }
            return options
        }
    }

    struct UsageError: Error { var message: String }

    /// The vectors folder: `--vectors`, else `Protocol/vectors` under the current folder, else beside this source file.
    static func vectorsFolder(_ options: Options) -> URL {
        if let vectors = options.vectors { return vectors }
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Protocol/vectors")
        if FileManager.default.fileExists(atPath: here.path) { return here }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocol/vectors")
    }

    public static func main(_ arguments: [String]) async -> Int32 {
        let options: Options
        do { options = try Options.parse(arguments) } catch let error as UsageError {
            say(error.message)
            return 2
        } catch {
            say("\(error)")
            return 2
        }
        let plan: Plan
        let fuzzer: ProtocolFuzzer
        do {
            plan = try BuiltInPlans.current()
            fuzzer = ProtocolFuzzer(corpus: try FuzzCorpus.load(vectors: vectorsFolder(options), plan: plan))
            try FileManager.default.createDirectory(at: options.folder, withIntermediateDirectories: true)
        } catch {
            say("inspector-soak: cannot start: \(error)")
            return 2
        }

        // The fuzzer notes each case before it runs it: after a crash this file names the case.
        let notePath = options.folder.appendingPathComponent("fuzz-case-in-progress").path
        let noteFile = open(notePath, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        func note(_ seed: UInt64) -> (Int) -> Void {
            { index in
                let text = Array("--fuzz-seed \(seed) --fuzz-case \(index)\n".utf8)
                _ = text.withUnsafeBytes { pwrite(noteFile, $0.baseAddress, $0.count, 0) }
                _ = ftruncate(noteFile, off_t(text.count))
            }
        }

        if let fuzzSeed = options.fuzzSeed, let count = options.fuzzCases {
            let report = fuzzer.run(seed: fuzzSeed, cases: 0..<count, starting: note(fuzzSeed))
            say("fuzz seed \(fuzzSeed): \(report.summary)")
            for failure in report.failures.prefix(10) { say("  FUZZ FAILURE: \(failure)") }
            return report.failures.isEmpty ? 0 : 1
        }
        if let fuzzSeed = options.fuzzSeed {
            let index = options.fuzzCase ?? 0
            let (isBundle, input) = fuzzer.makeCase(seed: fuzzSeed, index: index)
            say("fuzz case \(index) of seed \(fuzzSeed) (\(isBundle ? "bundle" : "line"), \(input.count) bytes): \(Data(input).base64EncodedString())")
            let report = fuzzer.run(seed: fuzzSeed, cases: index..<(index + 1))
            say(report.failures.isEmpty ? "ok" : report.failures.map(\.description).joined(separator: "\n"))
            return report.failures.isEmpty ? 0 : 1
        }
        if let seed = options.round {
            let result = await runRound(seed: seed, number: 0, folder: options.folder)
            return result.failures.isEmpty ? 0 : 1
        }

        say("inspector-soak: \(options.minutes) min, seed \(options.seed), fuzzing \(options.fuzzSeconds) s after each round; corpus \(fuzzer.corpus.lines.count) lines, \(fuzzer.corpus.bundles.count) bundles; files under \(options.folder.path) (after a crash, \(notePath) names the fuzzer case to replay)")
        let started = ContinuousClock.now
        let end = started + .milliseconds(Int(options.minutes * 60_000))
        var rounds = 0, operations = 0, syncs = 0, cuts = 0, restarts = 0, restartsDuringSync = 0, cutByRestart = 0, failures = 0
        var fuzz = FuzzReport()
        var fuzzBatches = 0
        var largestOffset: Int64 = 0
        while ContinuousClock.now < end {
            let roundSeed = SplitMix64.derive(options.seed, UInt64(rounds))
            rounds += 1
            let result = await runRound(seed: roundSeed, number: rounds, folder: options.folder)
            operations += result.operations
            syncs += result.syncs
            cuts += result.cuts
            restarts += result.restarts
            restartsDuringSync += result.restartsDuringSync
            cutByRestart += result.syncsCutByRestart
            failures += result.failures.count
            largestOffset = max(largestOffset, result.clockOffsets.map { abs($0) }.max() ?? 0)

            // The fuzzer, between rounds: a fresh slice of cases of this run's fuzz seed.
            let fuzzSeed = SplitMix64.derive(options.seed ^ 0xF022, UInt64(fuzzBatches))
            fuzzBatches += 1
            let deadline = min(end, ContinuousClock.now + .milliseconds(Int(options.fuzzSeconds * 1000)))
            let batch = fuzzer.run(seed: fuzzSeed, cases: 0..<Int.max, until: deadline, starting: note(fuzzSeed))
            fuzz.add(batch)
            for failure in batch.failures.prefix(3) { say("  FUZZ FAILURE: \(failure) — replay with --fuzz-seed \(fuzzSeed) --fuzz-case \(failure.index)") }
            failures += batch.failures.count
            say("  fuzz seed \(fuzzSeed): \(batch.cases) cases, \(batch.decoded) decoded, \(batch.failures.count) failures")
        }
        let elapsed = ContinuousClock.now - started
        say("""
            SUMMARY: \(elapsed) — seed \(options.seed): \(rounds) rounds, \(operations) ops, \(syncs) syncs, \(cuts) cut, \
            \(restarts) hub restarts (\(restartsDuringSync) during a sync, \(cutByRestart) of which broke it), largest clock offset \(largestOffset) ms, \
            \(fuzz.cases) fuzz cases (\(fuzz.decoded) decoded, \(fuzz.failures.count) failed), \(failures) failures
            """)
        return failures == 0 ? 0 : 1
    }

    static func runRound(seed: UInt64, number: Int, folder: URL) async -> SoakRound.Result {
        let started = ContinuousClock.now
        let round: SoakRound
        do { round = try SoakRound(seed: seed, in: folder) } catch {
            say("round \(number) (seed \(seed)): cannot start: \(error)")
            var result = SoakRound.Result()
            result.failures = ["cannot start: \(error)"]
            return result
        }
        let result = await round.run()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let offsets = result.clockOffsets.map { abs($0) }.max() ?? 0
        say(String(format: "round %d (seed %llu): %d devices, %d ops, %d syncs, %d cut, %d hub restarts (%d during a sync, %d broke it), largest clock offset %lld ms — %@ (%.1f s)",
                     number, seed, result.devices, result.operations, result.syncs, result.cuts, result.restarts, result.restartsDuringSync, result.syncsCutByRestart,
                     offsets, result.failures.isEmpty ? "ok" : "DIVERGED (\(result.failures.count) failures; files kept in \(round.folder.path); replay with --round \(seed))", seconds))
        for failure in result.failures.prefix(10) { say("  FAILURE: \(failure)") }
        return result
    }
}

extension Optional {
    func orThrow(_ name: String) throws -> Wrapped {
        guard let value = self else { throw SoakCommand.UsageError(message: "\(name): not a valid value\n\(SoakCommand.Options.usage)") }
        return value
    }
}

/// Prints a line at once (stdout is fully buffered when it is a file).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

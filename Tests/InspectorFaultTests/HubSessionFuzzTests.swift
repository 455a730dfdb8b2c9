import Foundation
import InspectorCore
import InspectorFuzzing
import Testing

/// The whole hub against the hub session fuzzer (`Sources/InspectorFuzzing/HubSessionFuzzer.swift`):
/// seeded sessions of handshakes, pushes of ops with edge values through the line codec, pulls,
/// bundle imports, supervisor decisions and exports against a real `HubStore` on a fresh SQLite file,
/// each step followed by the rules of `HubSession+Checks.swift`; and every input kept in
/// `Fuzz/crashes-hub/`, replayed. The libFuzzer target `inspector-hub-fuzz` (Fuzz/) runs the same
/// sessions, coverage-guided.
extension FaultTests {
    @Suite("Fuzzing hub sessions")
    struct HubSessionFuzzTests {
        /// The default seed of the suite's run (issue #10); `INSPECTOR_HUB_FUZZ_SEED` replaces it.
        static let defaultSeed: UInt64 = 10_1181

        /// Sessions per run by default (`INSPECTOR_HUB_FUZZ_CASES`): well under 30 s in a debug build.
        static let defaultCases = 60

        /// `Fuzz/crashes-hub/`, found from this file's path.
        static let keptInputsFolder = vectorsFolder.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/crashes-hub")

        /// A fuzzer with a scratch folder of its own (removed by the caller).
        static func makeFuzzer() throws -> HubSessionFuzzer {
            try HubSessionFuzzer(corpus: FuzzTests.corpus, plan: builtInPlan)
        }

        @Test("the sessions start from every op of the vectors' pushes and bundles")
        func templatesFromTheVectors() throws {
            let fuzzer = try Self.makeFuzzer()
            defer { fuzzer.removeScratch() }
            #expect(fuzzer.templates.count >= 15, "\(fuzzer.templates.count) template ops")
            #expect(Set(fuzzer.templates.map(\.kind)) == Set(Op.Kind.allCases))
        }

        /// 60 sessions by default (`INSPECTOR_HUB_FUZZ_CASES`), seed `INSPECTOR_HUB_FUZZ_SEED`; one
        /// session alone with `INSPECTOR_HUB_FUZZ_CASE=<index>`. No timing is asserted.
        @Test("60 seeded hub sessions: every step keeps the hub's rules")
        func seededSessions() async throws {
            let environment = ProcessInfo.processInfo.environment
            let seed = seedFromEnvironment("INSPECTOR_HUB_FUZZ_SEED", fallback: Self.defaultSeed, test: "seededSessions")
            let fuzzer = try Self.makeFuzzer()
            defer { fuzzer.removeScratch() }
            if let single = environment["INSPECTOR_HUB_FUZZ_CASE"].flatMap(Int.init) {
                let input = fuzzer.makeInput(seed: seed, index: single)
                print("[seededSessions] case \(single) (\(input.count) bytes, base64): \(Data(input).base64EncodedString())")
                let report = await fuzzer.run(seed: seed, cases: single..<(single + 1))
                print("[seededSessions] \(report.summary)")
                #expect(report.failures.isEmpty, "\(report.failures)")
                return
            }
            let cases = environment["INSPECTOR_HUB_FUZZ_CASES"].flatMap(Int.init) ?? Self.defaultCases
            let started = ContinuousClock.now
            let report = await fuzzer.run(seed: seed, cases: 0..<cases)
            print("[seededSessions] seed \(seed): \(report.summary) in \(ContinuousClock.now - started)")
            #expect(report.sessions == cases)
            for failure in report.failures.prefix(10) {
                Issue.record("\(failure) — replay with INSPECTOR_HUB_FUZZ_SEED=\(seed) INSPECTOR_HUB_FUZZ_CASE=\(failure.index)")
            }
            // The generator reaches every kind of step, and the hub's every answer.
            #expect(report.pushesAccepted > cases && report.pushes > report.pushesAccepted, "\(report.summary)")
            #expect(report.bundlesImported > cases / 10 && report.bundles > report.bundlesImported, "\(report.summary)")
            #expect(report.opsPulled > cases && report.resolves > cases && report.exports > cases / 2, "\(report.summary)")
            #expect(report.handshakesAccepted > cases && report.handshakes > report.handshakesAccepted, "\(report.summary)")
            for code in ["foreign_device", "out_of_scope", "invalid_op", "clock_ahead", "conflicting_op", "unknown_finding", "bad_bundle", "unauthorized"] {
                #expect((report.refusals[code] ?? 0) > 0, "the sessions never reach '\(code)': \(report.refusals)")
            }
        }

        /// Inputs kept in `Fuzz/crashes-hub/` (the libFuzzer target's inputs): each once broke a rule.
        @Test("the inputs kept in Fuzz/crashes-hub keep every rule")
        func keptInputs() async throws {
            let names = try FileManager.default.contentsOfDirectory(atPath: Self.keptInputsFolder.path)
                .filter { $0 != "README.md" && !$0.hasPrefix(".") }.sorted()
            let fuzzer = try Self.makeFuzzer()
            defer { fuzzer.removeScratch() }
            for name in names {
                let input = [UInt8](try Data(contentsOf: Self.keptInputsFolder.appendingPathComponent(name)))
                let report = await fuzzer.check(fuzzInput: input)
                #expect(report.sessions == 1, "Fuzz/crashes-hub/\(name) did not run")
                #expect(report.failures.isEmpty, "Fuzz/crashes-hub/\(name): \(report.failures.map(\.problem))")
            }
        }
    }
}

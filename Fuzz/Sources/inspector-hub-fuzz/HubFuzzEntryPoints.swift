// libFuzzer's entry points for the hub session fuzzer (issue #10).
//
// Built by `Fuzz/run` with `-sanitize=fuzzer` (coverage instrumentation of every Swift module, and
// libFuzzer linked in) and `-parse-as-library`; `main` runs libFuzzer's driver. Each input is one
// session script of `HubSessionFuzzer` (InspectorFuzzing): a fresh `HubStore` on a SQLite file in
// /dev/shm, 2–3 enrolled devices, then handshakes, pushes through the line codec, pulls, bundle
// imports, decisions and exports, each checked against the hub's rules. A broken rule aborts, so
// libFuzzer keeps the input as a crash file; a trap is a crash by itself. The counts of what the
// sessions drove are printed every 30 seconds and at exit. `INSPECTOR_HUB_FUZZ_ONLY` and
// `INSPECTOR_HUB_FUZZ_KNOWN` choose which failures abort (below).

import CLibFuzzer
import Foundation
import InspectorFuzzing
import InspectorPlans
import Synchronization

/// The fuzzer, set up by `LLVMFuzzerInitialize` from the vectors (`INSPECTOR_FUZZ_VECTORS`, by
/// default `Protocol/vectors` of the working directory).
let fuzzer = Mutex<HubSessionFuzzer?>(nil)

/// With `INSPECTOR_HUB_FUZZ_ONLY=TEXT`, only failures whose description holds TEXT abort: shrinking an
/// input (`-minimize_crash=1`) then keeps the failure it started from rather than any other.
let onlyFailuresMentioning = ProcessInfo.processInfo.environment["INSPECTOR_HUB_FUZZ_ONLY"]

/// With `INSPECTOR_HUB_FUZZ_KNOWN=TEXT`, failures whose description holds TEXT (an open bug already
/// reported) are counted in the totals but do not abort, so a long run measures the rest.
let knownFailuresMentioning = ProcessInfo.processInfo.environment["INSPECTOR_HUB_FUZZ_KNOWN"]

/// What the sessions of this process drove, and when the counts were last printed.
let totals = Mutex((report: HubFuzzReport(), printed: ContinuousClock.now, started: ContinuousClock.now))

/// Prints the counts so far to standard error.
func printTotals(_ label: String) {
    let line = totals.withLock { totals in
        "inspector-hub-fuzz: \(label) after \(totals.started.duration(to: .now).components.seconds) s: \(totals.report.summary)\n"
    }
    FileHandle.standardError.write(Data(line.utf8))
}

/// Loads the vectors, and writes the seed corpus when asked: `INSPECTOR_FUZZ_SEEDS` gets 64 session
/// scripts drawn by the seeded generator (the test suite's seed), so libFuzzer starts from sessions
/// that reach every kind of step.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    let environment = ProcessInfo.processInfo.environment
    let vectors = environment["INSPECTOR_FUZZ_VECTORS"] ?? "Protocol/vectors"
    do {
        let plan = try BuiltInPlans.current()
        let corpus = try FuzzCorpus.load(vectors: URL(fileURLWithPath: vectors), plan: plan)
        let made = try HubSessionFuzzer(corpus: corpus, plan: plan)
        fuzzer.withLock { $0 = made }
        if let seeds = environment["INSPECTOR_FUZZ_SEEDS"] {
            let folder = URL(fileURLWithPath: seeds)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for index in 0..<64 {
                try Data(made.makeInput(seed: 10_1181, index: index)).write(to: folder.appendingPathComponent(String(format: "session-%04d", index)))
            }
        }
        FileHandle.standardError.write(Data("inspector-hub-fuzz: \(made.templates.count) template ops from \(vectors); hub files in \(made.scratch.path)\n".utf8))
    } catch {
        FileHandle.standardError.write(Data("inspector-hub-fuzz: cannot set up from \(vectors): \(error)\n".utf8))
        exit(2)
    }
    atexit {
        printTotals("totals")
        fuzzer.withLock { $0?.removeScratch() }
    }
    return 0
}

/// The process's entry point: SwiftPM points `main` at `<module>_main`, which hands over to libFuzzer's driver.
@_cdecl("inspector_hub_fuzz_main")
public func inspectorHubFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzerTestOneInput)
}

/// One session.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let current = fuzzer.withLock({ $0 }) else { return 0 }
    let input = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let report = current.checkBlocking(fuzzInput: input)
    let due = totals.withLock { totals in
        totals.report.add(report)
        guard totals.printed.duration(to: .now) >= .seconds(30) else { return false }
        totals.printed = .now
        return true
    }
    if due { printTotals("so far") }
    if let failure = report.failures.first, onlyFailuresMentioning.map({ failure.problem.contains($0) }) ?? true,
       !(knownFailuresMentioning.map { failure.problem.contains($0) } ?? false) {
        printTotals("totals")
        FileHandle.standardError.write(Data("inspector-hub-fuzz: \(failure.target): \(failure.problem)\n".utf8))
        abort()
    }
    return 0
}

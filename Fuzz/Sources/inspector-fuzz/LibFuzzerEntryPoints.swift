// libFuzzer's entry points for the line codec and the bundle reader.
//
// Built by `Fuzz/run` with `-sanitize=fuzzer` (coverage instrumentation of every Swift module, and
// libFuzzer linked in) and `-parse-as-library`; `main` runs libFuzzer's driver. Each input is one case in the form of
// `Fuzz/crashes/README.md`: a first byte `B` makes the rest a bundle file, `L` makes the rest a
// protocol line, any other first byte makes the whole input a line. The rules are
// `ProtocolFuzzer`'s (InspectorFuzzing), the same the seeded fuzzer of the test suite applies: no
// crash; a line decodes to a message that survives encode → decode or is refused with a known code
// and a short message; a bundle round-trips or is refused with `bad_bundle`. A broken rule aborts, so
// libFuzzer keeps the input as a crash file.

import CLibFuzzer
import Foundation
import InspectorFuzzing
import InspectorPlans

/// The checks; libFuzzer brings the inputs, so the fuzzer's own corpus stays empty.
let checks = ProtocolFuzzer(corpus: FuzzCorpus(lines: [], bundles: []))

/// Writes the seed corpus, when asked: every vector line and bundle of `INSPECTOR_FUZZ_VECTORS`
/// (a `Protocol/vectors` folder), one file each, into the folder `INSPECTOR_FUZZ_SEEDS`. libFuzzer
/// calls this before it reads its corpus folders, so that folder can be one of them.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    let environment = ProcessInfo.processInfo.environment
    guard let vectors = environment["INSPECTOR_FUZZ_VECTORS"], let seeds = environment["INSPECTOR_FUZZ_SEEDS"] else { return 0 }
    do {
        let corpus = try FuzzCorpus.load(vectors: URL(fileURLWithPath: vectors), plan: BuiltInPlans.current())
        let folder = URL(fileURLWithPath: seeds)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (index, line) in corpus.lines.enumerated() {
            try Data([UInt8(ascii: "L")] + line).write(to: folder.appendingPathComponent(String(format: "line-%04d", index)))
        }
        for (index, bundle) in corpus.bundles.enumerated() {
            try Data([UInt8(ascii: "B")] + bundle).write(to: folder.appendingPathComponent(String(format: "bundle-%04d", index)))
        }
        FileHandle.standardError.write(Data("inspector-fuzz: \(corpus.lines.count) lines and \(corpus.bundles.count) bundles of \(vectors) seeded into \(seeds)\n".utf8))
    } catch {
        FileHandle.standardError.write(Data("inspector-fuzz: cannot seed from \(vectors): \(error)\n".utf8))
        exit(2)
    }
    return 0
}

/// The process's entry point: SwiftPM points `main` at `<module>_main`, which hands over to libFuzzer's driver.
@_cdecl("inspector_fuzz_main")
public func inspectorFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzerTestOneInput)
}

/// One case.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    var report = FuzzReport()
    checks.check(fuzzInput: input, into: &report)
    if let failure = report.failures.first {
        FileHandle.standardError.write(Data("inspector-fuzz: \(failure.target): \(failure.problem)\n".utf8))
        abort()
    }
    return 0
}

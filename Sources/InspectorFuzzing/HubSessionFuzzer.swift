import Dispatch
import Foundation
import InspectorCore
import InspectorProtocol
import Synchronization

// A semantic fuzzer of the whole hub (issue #10).
//
// Each input is a script (read by `FuzzInputReader`: any bytes are a valid one) for one session
// against a real `HubStore` on a fresh SQLite file with an injected clock: 2–3 devices enrolled with
// scopes over the built-in plan's units, then up to 40 steps — handshakes, pushes of ops with edge
// values built as lines and decoded by `LineCodec`, pushes of mutated lines (`Mutator`), replays of
// acknowledged ops, pulls, bundle imports (`BundleFile`, sometimes mutated and re-signed), supervisor
// decisions, exports, clock moves, sub-units, revocations, schedules — each followed by the checks of
// `HubSession+Checks.swift`. The ops start from those of `Protocol/vectors`. The same inputs run in
// three places: the seeded run of the test suite (`HubSessionFuzzTests`, bytes from a `SplitMix64`),
// the libFuzzer target `inspector-hub-fuzz` in `Fuzz/` (coverage-guided), and the kept inputs in
// `Fuzz/crashes-hub/`, replayed on every `swift test`.

/// The hub session fuzzer.
public struct HubSessionFuzzer: Sendable {
    /// The plan every hub follows (the built-in one).
    public let plan: Plan
    /// The vectors' lines and bundles: the mutators splice from them.
    public let corpus: FuzzCorpus
    /// Where the sessions' hub files go, one folder per session.
    public let scratch: URL
    let maker: HubOpMaker

    /// The ops the sessions start from: every op of the corpus' push lines and bundles, once each.
    public var templates: [Op] { maker.templates }

    /// - Parameters:
    ///   - corpus: the vectors (``FuzzCorpus/load(vectors:plan:)``).
    ///   - plan: the built-in plan.
    ///   - scratch: a folder for the hub files; by default one in `/dev/shm` (memory, so that
    ///     `synchronous=FULL` costs nothing), else in the temporary folder.
    public init(corpus: FuzzCorpus, plan: Plan, scratch: URL? = nil) throws {
        self.plan = plan
        self.corpus = corpus
        self.scratch = scratch ?? Self.defaultScratch()
        maker = HubOpMaker(plan: plan, templates: Self.templates(from: corpus))
        try FileManager.default.createDirectory(at: self.scratch, withIntermediateDirectories: true)
    }

    /// A new folder for hub files, named after this process: in `/dev/shm` when it can be written.
    public static func defaultScratch() -> URL {
        let memory = URL(fileURLWithPath: "/dev/shm", isDirectory: true)
        let base = FileManager.default.isWritableFile(atPath: memory.path) ? memory : FileManager.default.temporaryDirectory
        let name = "inspector-hub-fuzz-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        return base.appendingPathComponent(name, isDirectory: true)
    }

    /// Every op of the corpus' `push` lines and bundles that decodes, once each, in a fixed order.
    static func templates(from corpus: FuzzCorpus) -> [Op] {
        var ops: [Op] = []
        for line in corpus.lines {
            if case .push(let push)? = try? LineCodec.decode(line) { ops += push.ops }
        }
        for bundle in corpus.bundles {
            if let decoded = try? BundleFile.decode(Data(bundle)) { ops += decoded.ops }
        }
        var unique: [[UInt8]: Op] = [:]
        for op in ops { unique[Array(op.wireJSON().utf8)] = op }
        return unique.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
    }

    /// The input of case `index` of `seed`: 16–600 random bytes.
    public func makeInput(seed: UInt64, index: Int) -> [UInt8] {
        var random = SplitMix64(seed: SplitMix64.derive(seed, UInt64(index)))
        let count = random.int(16...600)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// Runs cases `indices` of `seed`, stopping early at `deadline`.
    public func run(seed: UInt64, cases indices: Range<Int>, until deadline: ContinuousClock.Instant? = nil) async -> HubFuzzReport {
        var report = HubFuzzReport()
        for index in indices {
            if let deadline, ContinuousClock.now >= deadline { break }
            report.add(await check(fuzzInput: makeInput(seed: seed, index: index), seed: seed, index: index))
        }
        return report
    }

    /// Runs the session an input describes on a fresh hub, and removes its files.
    public func check(fuzzInput input: [UInt8], seed: UInt64 = 0, index: Int = 0) async -> HubFuzzReport {
        let folder = scratch.appendingPathComponent("session-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var report = HubFuzzReport()
        let failure: String?
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let session = try HubSession(input: input, path: folder.appendingPathComponent("hub.sqlite").path, plan: plan,
                                         maker: maker, corpus: corpus)
            (report, failure) = await session.run()
        } catch {
            report.sessions = 1
            failure = "the hub could not be created in \(folder.path): \(error)"
        }
        if let failure {
            report.failures.append(FuzzFailure(seed: seed, index: index, target: "hub session", problem: failure, input: input))
        }
        return report
    }

    /// ``check(fuzzInput:seed:index:)`` for a caller that cannot wait asynchronously (libFuzzer's
    /// callback): blocks the calling thread until the session ends. Never call it from a task.
    public func checkBlocking(fuzzInput input: [UInt8]) -> HubFuzzReport {
        let result = BlockingResult()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let report = await self.check(fuzzInput: input)
            result.value.withLock { $0 = report }
            done.signal()
        }
        done.wait()
        return result.value.withLock { $0 ?? HubFuzzReport() }
    }

    /// Removes the scratch folder.
    public func removeScratch() {
        try? FileManager.default.removeItem(at: scratch)
    }
}

/// The report a detached task hands to a blocked thread.
private final class BlockingResult: Sendable {
    let value = Mutex<HubFuzzReport?>(nil)
}

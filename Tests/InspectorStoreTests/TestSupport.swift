import Foundation
import InspectorCore
import InspectorPlans
import InspectorProtocol
import InspectorStore
import Synchronization
import Testing

/// The built-in plan, read once for the whole test target.
let builtInPlan: Plan = {
    do { return try BuiltInPlans.current() } catch { fatalError("the built-in plan does not load: \(error)") }
}()

/// 2024-06-20T01:02:03.456Z.
let baseMillis: Int64 = 1_718_845_323_456
let dayMillis: Int64 = 86_400_000

/// A wall clock the test sets by hand, for `ReplicaStore.create(clock:)`.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64 = baseMillis) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func set(_ millis: Int64) { value.withLock { $0 = millis } }
    func advance(by millis: Int64) { value.withLock { $0 += millis } }
    /// The closure to hand to the store.
    var read: @Sendable () -> Int64 { { [self] in self.value.withLock { $0 } } }
}

/// A fresh directory for one test, removed afterwards.
func withTemporaryDirectory<T>(in root: URL = FileManager.default.temporaryDirectory, _ body: (URL) throws -> T) throws -> T {
    let url = root.appendingPathComponent("inspector-store-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// A fresh directory for one async test, removed afterwards.
func withTemporaryDirectory<T>(in root: URL = FileManager.default.temporaryDirectory, _ body: (URL) async throws -> T) async throws -> T {
    let url = root.appendingPathComponent("inspector-store-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// Creates a replica named after its device in `directory`.
func makeStore(in directory: URL, device: String, clock: ManualClock, name: String? = nil) throws -> ReplicaStore {
    try ReplicaStore.create(at: directory.appendingPathComponent("\(name ?? device).sqlite").path, device: device, plan: builtInPlan,
                            clock: clock.read)
}

/// The stable code of an error of any of the project's error types.
func errorCode(_ error: any Error) -> String {
    switch error {
    case let error as CoreError: error.code.rawValue
    case let error as StoreError: error.code.rawValue
    case let error as ProtocolError: error.code.rawValue
    case let error as ReplicaStore.RefusedOperation: error.error.code.rawValue
    default: "\(type(of: error)): \(error)"
    }
}

/// The message of an error of any of the project's error types.
func errorMessage(_ error: any Error) -> String {
    switch error {
    case let error as CoreError: error.message
    case let error as StoreError: error.message
    case let error as ProtocolError: error.message
    case let error as ReplicaStore.RefusedOperation: error.error.message
    default: "\(error)"
    }
}

/// Runs `body`, expecting it to throw; returns the error's code and message.
func thrown(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> (code: String, message: String) {
    do {
        try body()
        Issue.record("expected an error, nothing was thrown", sourceLocation: sourceLocation)
        return ("", "")
    } catch {
        return (errorCode(error), errorMessage(error))
    }
}

/// The Unicode scalars of a string: Swift's `==` on `String` ignores normalization, this does not.
func scalars(_ text: String) -> [UInt32] { text.unicodeScalars.map(\.value) }

// MARK: Carrying ops between replicas by hand

/// What a gossip round carries: a replica's ops after a log position, as op lines in a file. (The
/// signed bundle format is the protocol layer's, tested there and in the sync client; these tests
/// are about the store's merge, whoever relays what.)
struct CarriedOps {
    var plan: String
    var ops: [Op]
}

/// Writes the replica's operations after `since` to a file of op lines.
@discardableResult
func exportBundle(from store: ReplicaStore, to url: URL, since: Int64 = 0) throws -> CarriedOps {
    let rows = try store.operations(after: since)
    let carried = CarriedOps(plan: store.plan.id, ops: rows.map(\.operation))
    let text = "plan \(carried.plan)\n" + carried.ops.map { "op " + $0.wireJSON() + "\n" }.joined()
    try Data(text.utf8).write(to: url, options: .atomic)
    return carried
}

/// Reads a file of op lines and merges it, all or nothing.
@discardableResult
func importBundle(from url: URL, into store: ReplicaStore) throws -> ReplicaStore.MergeResult {
    let lines = String(decoding: try Data(contentsOf: url), as: UTF8.self).split(separator: "\n")
    guard let first = lines.first, first == "plan \(store.plan.id)" else { throw ProtocolError(.badBundle, "wrong plan") }
    return try store.merge(lines.dropFirst().map { line throws in try Op(wireJSON: String(line.dropFirst(3))) })
}

/// The first line where two texts differ, for failure messages.
func firstDifference(_ a: String, _ b: String) -> String {
    let la = a.split(separator: "\n", omittingEmptySubsequences: false)
    let lb = b.split(separator: "\n", omittingEmptySubsequences: false)
    for index in 0..<max(la.count, lb.count) {
        let x = index < la.count ? String(la[index]) : "<end>"
        let y = index < lb.count ? String(lb[index]) : "<end>"
        if x != y { return "line \(index + 1): \(x) ≠ \(y)" }
    }
    return "no difference"
}

/// A small deterministic random number generator (SplitMix64): one seed gives one whole scenario.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Foundation
import InspectorStore
import InspectorTLS
import InspectorProtocol
import InspectorTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Helpers for the end-to-end tests: find the built `inspector` and `hub` executables, run them as
// child processes with a timeout, keep a hub serving on 127.0.0.1 (port 0), kill with signals, and
// give each test a temporary directory that is removed afterwards.

// MARK: - The built executables

enum Products {
    /// The directory holding the built products (`inspector`, `hub`, the test binary).
    ///
    /// Under `swift test` on Linux, `CommandLine.arguments[0]` is the test executable itself,
    /// `<products>/<Package>PackageTests.xctest` (a file); on macOS the tests run inside a
    /// `<products>/<Package>PackageTests.xctest` bundle loaded by `xctest` or swiftpm's helper, so
    /// arguments[0] is elsewhere and the loaded `.xctest` bundle tells. Either way the products are
    /// the `.xctest`'s siblings.
    static let directory: URL = {
        var candidates: [URL] = []
        let argument0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var walk = argument0
        while walk.pathComponents.count > 1 {
            if walk.pathExtension == "xctest" { candidates.append(walk.deletingLastPathComponent()); break }
            walk.deleteLastPathComponent()
        }
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            candidates.append(bundle.bundleURL.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        candidates.append(argument0.deletingLastPathComponent())
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        for candidate in candidates
        where FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("inspector").path)
            && FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("hub").path) {
            return candidate
        }
        fatalError("cannot find the built 'inspector' and 'hub' executables; looked in \(candidates.map(\.path))")
    }()

    static var inspector: String { directory.appendingPathComponent("inspector").path }
    static var hub: String { directory.appendingPathComponent("hub").path }
}

// MARK: - Small thread-safe box

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

// MARK: - Running a command to completion

/// What a finished command did.
struct CommandResult: Sendable, CustomStringConvertible {
    var command: String
    var status: Int32
    var stdoutData: Data
    var stderrData: Data
    var timedOut: Bool
    var elapsed: Double

    var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    var stderr: String { String(decoding: stderrData, as: UTF8.self) }
    var succeeded: Bool { status == 0 && !timedOut }
    /// Stdout's lines, without empty trailing ones.
    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }

    var description: String {
        "`\(command)` exited \(status)\(timedOut ? " (killed after the timeout)" : "")\n--- stdout:\n\(stdout.prefix(3000))\n--- stderr:\n\(stderr.prefix(3000))"
    }
}

enum ProcessError: Error, CustomStringConvertible {
    case launch(String)
    case timeout(String)
    var description: String {
        switch self {
        case .launch(let why): "cannot launch: \(why)"
        case .timeout(let why): "timed out: \(why)"
        }
    }
}

/// Runs `executable` with `arguments` to completion, capturing stdout and stderr; SIGKILLs it when
/// it outlives `timeout` seconds. Blocks the calling thread.
func runBlocking(_ executable: String, _ arguments: [String], in directory: URL? = nil, timeout: Double = 120) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    // Timed from the launch: the gate may hold it back while other tests hold many descriptors.
    do { try ProcessLaunchGate.launch { try process.run() } } catch { throw ProcessError.launch("\(executable): \(error)") }
    let started = Date()
    let outData = Locked(Data()), errData = Locked(Data())
    let readers = DispatchGroup()
    for (pipe, box) in [(out, outData), (err, errData)] {
        DispatchQueue.global().async(group: readers) {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            box.withLock { $0 = data }
        }
    }
    var timedOut = false
    if exited.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        kill(process.processIdentifier, SIGKILL)
        exited.wait()
    }
    readers.wait()
    process.waitUntilExit()
    let name = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(separator: " ")
    return CommandResult(command: name, status: process.terminationStatus, stdoutData: outData.current,
                         stderrData: errData.current, timedOut: timedOut, elapsed: Date().timeIntervalSince(started))
}

/// Runs a blocking piece of work on a Dispatch thread, so the cooperative pool stays free.
func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

func run(_ executable: String, _ arguments: [String], in directory: URL? = nil, timeout: Double = 120) async throws -> CommandResult {
    try await offThread { try runBlocking(executable, arguments, in: directory, timeout: timeout) }
}

/// Records an issue (with the command's output) unless it succeeded; returns it for chaining.
@discardableResult
func expectSuccess(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) -> CommandResult {
    #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
    return result
}

/// Throws (ending the test) unless it succeeded.
@discardableResult
func requireSuccess(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    try #require(result.succeeded, "\(result)", sourceLocation: sourceLocation)
    return result
}

// MARK: - A child process that keeps running

/// A child process started in the background; stdout is read line by line as it comes.
final class ChildProcess: @unchecked Sendable {
    let process: Process
    let name: String
    private let stdoutLines = Locked<[String]>([])
    private let stderrLines = Locked<[String]>([])
    private let exited = DispatchSemaphore(value: 0)
    private let finished = Locked(false)
    private let readers = DispatchGroup()

    /// Starts `executable`; stdout and stderr are split into lines as they arrive.
    init(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        name = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(separator: " ")
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited, finished = self.finished
        process.terminationHandler = { _ in
            finished.withLock { $0 = true }
            exited.signal()
        }
        do { try ProcessLaunchGate.launch { try process.run() } } catch { throw ProcessError.launch("\(executable): \(error)") }
        for (pipe, box) in [(out, stdoutLines), (err, stderrLines)] {
            DispatchQueue.global().async(group: readers) {
                let handle = pipe.fileHandleForReading
                var pending = Data()
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        pending.removeSubrange(pending.startIndex...newline)
                        box.withLock { $0.append(line) }
                    }
                }
                if !pending.isEmpty { box.withLock { $0.append(String(decoding: pending, as: UTF8.self)) } }
            }
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { !finished.current }
    var stdout: [String] { stdoutLines.current }
    var stderr: [String] { stderrLines.current }
    var status: Int32 { process.terminationStatus }
    /// How the process ended: `.exit` or `.uncaughtSignal`.
    var terminationReason: Process.TerminationReason { process.terminationReason }

    /// Waits (blocking) until a stdout or stderr line satisfies `predicate`, or the timeout; returns the line.
    func waitForLine(onStderr: Bool = false, timeout: Double, where predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = 0
        while Date() < deadline {
            let lines = onStderr ? stderr : stdout
            for line in lines[seen...] where predicate(line) { return line }
            seen = lines.count
            if !isRunning {
                // One last look: the reader may still be draining.
                readers.wait()
                let rest = onStderr ? stderr : stdout
                return rest[seen...].first(where: predicate)
            }
            usleep(2_000)
        }
        return nil
    }

    /// Sends a signal (no-op once the process has ended).
    func signal(_ number: Int32) {
        guard isRunning else { return }
        kill(pid, number)
    }

    /// Waits (blocking) for the process to end; true if it did within the timeout.
    @discardableResult
    func waitForExit(timeout: Double) -> Bool {
        guard exited.wait(timeout: .now() + timeout) == .success else { return false }
        exited.signal()  // let later waits return at once
        readers.wait()
        process.waitUntilExit()
        return true
    }

    /// SIGKILLs the process and waits for it.
    func killNow() {
        signal(SIGKILL)
        waitForExit(timeout: 30)
    }
}

// MARK: - A hub serving on a free port

/// `hub serve --db F --listen 127.0.0.1:0`, with the address it printed.
final class HubProcess: @unchecked Sendable {
    let child: ChildProcess
    let address: String
    let database: String

    /// Starts the hub and waits for its `listening on HOST:PORT` line.
    init(database: String, in directory: URL, extraArguments: [String] = []) throws {
        self.database = database
        child = try ChildProcess(Products.hub, ["serve", "--db", database, "--listen", "127.0.0.1:0"] + extraArguments, in: directory)
        let prefix = "listening on "
        guard let listening = child.waitForLine(timeout: 60, where: { $0.hasPrefix(prefix) }) else {
            child.killNow()
            throw ProcessError.timeout("the hub printed no '\(prefix)' line; stderr: \(child.stderr.joined(separator: "\n"))")
        }
        address = String(listening.dropFirst(prefix.count))
    }

    var port: UInt16 { UInt16(address.split(separator: ":").last!)! }

    /// SIGTERM, then wait; SIGKILL if it does not stop within the timeout. Returns whether it stopped by itself.
    @discardableResult
    func stop(timeout: Double = 15) async -> Bool {
        let child = self.child
        return (try? await offThread {
            child.signal(SIGTERM)
            if child.waitForExit(timeout: timeout) { return true }
            child.killNow()
            return false
        }) ?? false
    }

    /// SIGKILL and wait.
    func kill() async {
        let child = self.child
        _ = try? await offThread { child.killNow() }
    }

    var stderrText: String { child.stderr.joined(separator: "\n") }
}

// MARK: - A temporary workspace per test

/// A fresh temporary directory for one test, with the commands run in it; every child process still
/// running and the directory itself are removed at the end.
final class Workspace: @unchecked Sendable {
    let directory: URL
    private let children = Locked<[ChildProcess]>([])

    init(_ name: String) throws {
        let safe = name.map { $0.isLetter || $0.isNumber ? $0 : "-" }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("inspectorsync-e2e-\(String(safe.prefix(40)))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func inspector(_ arguments: String..., timeout: Double = 120) async throws -> CommandResult {
        try await run(Products.inspector, arguments, in: directory, timeout: timeout)
    }

    func inspector(arguments: [String], timeout: Double = 120) async throws -> CommandResult {
        try await run(Products.inspector, arguments, in: directory, timeout: timeout)
    }

    func hub(_ arguments: String..., timeout: Double = 120) async throws -> CommandResult {
        try await hub(arguments: arguments, timeout: timeout)
    }

    func hub(arguments: [String], timeout: Double = 120) async throws -> CommandResult {
        try await run(Products.hub, arguments, in: directory, timeout: timeout)
    }

    /// Starts a hub on `database` (a file name in the workspace or a path).
    func startHub(_ database: String, extraArguments: [String] = []) async throws -> HubProcess {
        let directory = self.directory
        let server = try await offThread { try HubProcess(database: database, in: directory, extraArguments: extraArguments) }
        children.withLock { $0.append(server.child) }
        return server
    }

    /// Starts a child process that the test will stop or kill.
    func spawn(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(executable, arguments, in: directory)
        children.withLock { $0.append(child) }
        return child
    }

    /// The number of lines `inspector log --db F` prints: the replica's op count as the CLI shows it.
    func logLineCount(_ database: String) async throws -> Int {
        let result = try requireSuccess(try await inspector("log", "--db", database))
        return result.stdoutData.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }

    func cleanUp() {
        for child in children.current where child.isRunning { child.killNow() }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body` with a fresh workspace and removes it afterwards, whatever happens.
func withWorkspace<T>(_ name: String = #function, _ body: (Workspace) async throws -> T) async throws -> T {
    let workspace = try Workspace(name)
    do {
        let result = try await body(workspace)
        workspace.cleanUp()
        return result
    } catch {
        workspace.cleanUp()
        throw error
    }
}

// MARK: - Seeded randomness

/// SplitMix64: a small deterministic generator, so that a failing scenario can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    let seed: UInt64

    /// Seeds from `E2E_SEED` when set, else from the clock; prints the seed either way.
    init(test: String) {
        let seed = ProcessInfo.processInfo.environment["E2E_SEED"].flatMap { UInt64($0) }
            ?? UInt64(Date().timeIntervalSince1970 * 1_000_000) ^ UInt64(truncatingIfNeeded: test.hashValue)
        self.init(seed: seed)
        print("[\(test)] random seed \(seed) (replay with E2E_SEED=\(seed))")
    }

    init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Small utilities

/// Parses `hub status`'s "operations held: N".
func hubOperationCount(_ workspace: Workspace, _ database: String) async throws -> Int {
    let status = try requireSuccess(try await workspace.hub("status", "--db", database))
    guard let line = status.lines.first(where: { $0.hasPrefix("operations held: ") }),
          let count = Int(line.dropFirst("operations held: ".count)) else {
        Issue.record("hub status has no 'operations held' line: \(status)")
        return -1
    }
    return count
}

/// Enrolls a device and returns its token (the last line `hub device add` prints).
func enroll(_ workspace: Workspace, hub database: String, device: String, units: String) async throws -> String {
    let result = try requireSuccess(try await workspace.hub("device", "add", "--db", database, "--device", device, "--units", units))
    let token = try #require(result.lines.last)
    let line = try EnrollmentLine(parsing: token)
    #expect(line.secret.count == 64 && line.secret.allSatisfy(\.isHexDigit) && line.hubKey != nil, "the enrollment line is '\(token)'")
    return token
}

extension Workspace {
    /// A hub file `hub.sqlite` with these devices enrolled (id, units), serving; its path, process and the tokens.
    func startEnrolledHub(devices: [(String, String)]) async throws -> (database: String, hub: HubProcess, tokens: [String: String]) {
        let database = path("hub.sqlite")
        try requireSuccess(try await hub("init", "--db", database))
        var tokens: [String: String] = [:]
        for (device, units) in devices { tokens[device] = try await enroll(self, hub: database, device: device, units: units) }
        return (database, try await startHub(database), tokens)
    }

    /// `inspector init` of a replica `ID.sqlite` for device `ID`, set up to sync with `hub`; its path.
    func initDevice(_ id: String, hub: HubProcess, token: String) async throws -> String {
        let database = path("\(id).sqlite")
        try requireSuccess(try await inspector("init", "--db", database, "--device", id, "--hub", hub.address, "--token", token))
        return database
    }
}

/// The UTF-8 bytes of a string, for comparisons that must not ignore Unicode normalization
/// (Swift's `==` on `String` treats NFC and NFD as equal).
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Whether `data` contains `needle` as a byte sequence.
func contains(_ data: Data, _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, data.count >= needle.count else { return needle.isEmpty }
    return data.range(of: Data(needle)) != nil
}

/// The suite every end-to-end test lives in. Serialized: the tests spawn many processes, and the
/// kill tests pick their delays from measured durations, which parallel tests would distort.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct EndToEnd {}

// MARK: Signed bundles made by tests

/// Makes a replica trust the fixed test keys of `SigningKeys` for these devices, as if the hub had
/// listed them at a sync (PROTOCOL.md 19.4), so that it imports bundles the tests sign with them.
func trustTestKeys(of devices: [String], in database: String) async throws {
    let store = try ReplicaStore.open(at: database)
    var keys = try store.authorKeys()
    for device in devices { keys[device] = SigningKeys.fingerprint(for: device).description }
    try await store.recordAuthorKeys(keys)
}

/// Makes a replica trust the key of another replica (its `REPLICA.key`) for that replica's device,
/// as the hub's welcome would list it once both had synced.
func trustKey(ofReplica other: String, device: String, in database: String) async throws {
    let store = try ReplicaStore.open(at: database)
    var keys = try store.authorKeys()
    keys[device] = try TLSIdentity.loadOrCreate(keyFile: other + ".key").fingerprint.description
    try await store.recordAuthorKeys(keys)
}

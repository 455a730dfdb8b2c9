import Foundation
import InspectorCore
import InspectorHub
import InspectorTLS
import InspectorPlans
import InspectorProtocol
import InspectorStore
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every suite of this target runs one test at a time: the memory and timing measurements must not
/// share the machine with the other fault tests.
@Suite("Fault injection", .serialized)
struct FaultTests {}

/// The built-in plan, read once for the whole test target.
let builtInPlan: Plan = {
    do { return try BuiltInPlans.current() } catch { fatalError("the built-in plan does not load: \(error)") }
}()

/// `Protocol/vectors`, found from this file's path.
let vectorsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Protocol/vectors")

/// A fresh temporary folder, removed when released.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("inspectorsync-faulttests-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A logger that drops everything (1,000 refused connections would flood the output).
let quietLogger = Logger(label: "fault-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A live hub server on 127.0.0.1, port chosen by the system.
struct LiveHub {
    let store: HubStore
    let running: HubServer.Running
    let task: Task<Void, any Error>
    let port: Int

    static func start(_ store: HubStore, limits: ProtocolLimits = .v1) async throws -> LiveHub {
        let server = HubServer(store: store, configuration: .init(host: "127.0.0.1", port: 0, security: .tlsAndPlaintext(try HubTLS(identity: store.identity)), limits: limits, logger: quietLogger))
        let running = try await server.start()
        let task = Task { try await running.run() }
        let port = try HubAddress(parsing: running.address).port
        return LiveHub(store: store, running: running, task: task, port: port)
    }

    var address: HubAddress { HubAddress(host: "127.0.0.1", port: port) }

    func stop() async {
        running.stop()
        _ = await task.result
    }
}

/// A seed from the environment variable `name` when set, else `fallback`; printed either way.
func seedFromEnvironment(_ name: String, fallback: UInt64, test: String) -> UInt64 {
    let seed = ProcessInfo.processInfo.environment[name].flatMap { UInt64($0) } ?? fallback
    print("[\(test)] seed \(seed) (replay with \(name)=\(seed))")
    return seed
}

/// The resident memory of this process (`VmRSS` of /proc/self/status), in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let digits = line.split(separator: " ").compactMap { Int($0) }
        return (digits.first ?? 0) * 1024
    }
    return 0
}

/// The most bytes the kernel may hold in one loopback connection's buffers: the ceilings of TCP's
/// receive and send buffer autotuning (`/proc/sys/net/ipv4/tcp_rmem` and `tcp_wmem`, third field).
/// A client's `send` counts what these buffers took, not what the peer read; machines differ widely
/// (4 MiB on some, over 100 MiB on others), so a bound on bytes sent must allow for them.
func kernelSocketBufferCeiling() -> Int {
    func third(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/\(name)", encoding: .utf8) else { return 0 }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        return fields.count == 3 ? fields[2] : 0
    }
    return third("tcp_rmem") + third("tcp_wmem")
}

/// Raises the soft limit of open files to at least `needed` (up to the hard limit); returns the limit in force.
@discardableResult
func raiseOpenFileLimit(to needed: UInt64) -> UInt64 {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if UInt64(limit.rlim_cur) < needed {
        limit.rlim_cur = min(rlim_t(needed), limit.rlim_max)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return UInt64(limit.rlim_cur)
}

/// A bare TCP client: exact bytes out, lines in. The socket is non-blocking and waits by sleeping
/// the task, so a test never blocks one of the cooperative pool's threads (the hub needs them).
final class RawSocket: @unchecked Sendable {  // used by one task at a time
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var chunk: [UInt8] = []
    private(set) var isClosed = false

    enum Next: Equatable, CustomStringConvertible {
        case line([UInt8])
        case closed
        case timedOut

        var description: String {
            switch self {
            case .line(let bytes): "line '\(String(decoding: bytes.prefix(200), as: UTF8.self))'"
            case .closed: "closed"
            case .timedOut: "timed out"
            }
        }
    }

    init(port: Int) throws {
        #if canImport(Glibc)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw RawSocketError(what: "socket()", code: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        // A loopback connect completes at once (the kernel queues it until the hub accepts).
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw RawSocketError(what: "connect()", code: code)
        }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    deinit { close() }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(descriptor)
    }

    /// Sends what the socket takes now, without waiting: the number of bytes taken, 0 when its buffer
    /// is full, nil when the peer has closed or reset the connection.
    func sendNow(_ bytes: ArraySlice<UInt8>) -> Int? {
        while true {
            let n = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: return nil
            }
        }
    }

    /// Sends every byte; false when the peer has closed or reset the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool {
        var sent = 0
        while sent < bytes.count {
            guard let n = sendNow(bytes[sent...]) else { return false }
            sent += n
            if n == 0 { try? await Task.sleep(for: .milliseconds(1)) }
        }
        return true
    }

    /// Sends a line: the bytes and `\n`.
    @discardableResult
    func sendLine(_ bytes: [UInt8]) async -> Bool { await send(bytes + [0x0A]) }

    @discardableResult
    func sendLine(_ message: Message) async -> Bool { await send(LineCodec.encode(message)) }

    /// Reads what has arrived, without waiting: false when the peer has closed the connection.
    func receiveNow() -> Bool {
        if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 64 * 1024) }
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
                continue
            }
            if n == 0 { return false }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return true
            default: return false
            }
        }
    }

    /// Bytes received and not yet returned as lines.
    var pending: [UInt8] { buffer }

    /// Takes the complete lines received so far.
    func takeLines() -> [[UInt8]] {
        var lines: [[UInt8]] = []
        while let newline = buffer.firstIndex(of: 0x0A) {
            lines.append(Array(buffer[..<newline]))
            buffer.removeSubrange(...newline)
        }
        return lines
    }

    /// The next line from the peer (without `\n`), or closed, or nothing within `seconds`.
    func next(timeout seconds: Double = 15) async -> Next {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return .line(line)
            }
            if !receiveNow() {
                if let newline = buffer.firstIndex(of: 0x0A) {
                    let line = Array(buffer[..<newline])
                    buffer.removeSubrange(...newline)
                    return .line(line)
                }
                return .closed
            }
            if buffer.contains(0x0A) { continue }
            guard ContinuousClock.now < deadline else { return .timedOut }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The next line decoded, or nil.
    func message(timeout seconds: Double = 15) async -> Message? {
        guard case .line(let bytes) = await next(timeout: seconds) else { return nil }
        return try? LineCodec.decode(bytes)
    }
}

struct RawSocketError: Error, CustomStringConvertible {
    var what: String
    var code: Int32
    var description: String { "\(what) failed: errno \(code)" }
}

/// The code of an `error` message, or a description of what came instead.
func errorCode(_ next: RawSocket.Next) -> String {
    guard case .line(let bytes) = next else { return "<\(next)>" }
    guard let message = try? LineCodec.decode(bytes) else { return "<undecodable: \(String(decoding: bytes.prefix(120), as: UTF8.self))>" }
    guard case .error(let error) = message else { return "<\(message.verb)>" }
    return error.code.rawValue
}

/// A hello line for a device of the tests.
func helloLine(_ device: String, token: String) -> [UInt8] {
    Array(LineCodec.encode(.hello(Message.Hello(device: device, token: token, time: ReplicaStore.systemClock(),
                                                  planDigest: builtInPlan.digest))).dropLast())
}

/// `count` valid `set` operations of `device` on `unit`, with sequence numbers 1…count.
func syntheticOps(device: String, count: Int, unit: String = "muong-lay", startMillis: Int64 = 1_718_000_000_000) -> [Op] {
    var targets: [(item: String, field: String, values: [String])] = []
    for item in builtInPlan.items {
        for field in builtInPlan.fields(of: item) where field.type == .enum || field.type == .integer || field.type == .text {
            let values = field.type == .enum ? (field.values ?? []).map(\.id) : []
            targets.append((item.id, field.id, values))
        }
    }
    return (0..<count).map { index in
        let target = targets[index % targets.count]
        let value = target.values.isEmpty ? String(index % 500) : target.values[index % target.values.count]
        return Op.set(device: device, sequence: Int64(index + 1),
                      timestamp: HLCTimestamp(millis: startMillis + Int64(index), counter: 0, device: device),
                      unit: unit, item: target.item, field: target.field, value: value)
    }
}

/// A device replica with its hub address and token saved.
func makeDevice(_ directory: TemporaryDirectory, _ id: String, hub: LiveHub, token: String, ops: Int = 0) throws -> ReplicaStore {
    let store = try ReplicaStore.create(at: directory.path("\(id).sqlite"), device: id, plan: builtInPlan)
    try store.connect(toHubAt: hub.address.description, token: token)
    // The device's own ops, as if it had recorded them.
    if ops > 0 { try store.restoreOwnOperations(syntheticOps(device: id, count: ops)) }
    return store
}

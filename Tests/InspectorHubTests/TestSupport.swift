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
@testable import InspectorTestSupport

/// The built-in plan, read once for the whole test target.
let builtInPlan: Plan = {
    do { return try BuiltInPlans.current() } catch { fatalError("the built-in plan does not load: \(error)") }
}()

/// The fixed hub clock of the tests: 2024-06-20T03:02:03.456Z.
let fixedHubTime: Int64 = 1_718_852_523_456

/// A temporary folder, removed when the value is released.
final class TemporaryDirectory: @unchecked Sendable {  // immutable after init
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("inspectorsync-hubtests-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A fresh hub store of the built-in plan with a fixed clock.
func makeHub(_ directory: TemporaryDirectory, plan: Plan = builtInPlan, clock: Int64 = fixedHubTime) throws -> HubStore {
    try HubStore.create(at: directory.path("hub.sqlite"), plan: plan, clock: { clock })
}

/// A timestamp, shorter.
func ts(_ millis: Int64, _ counter: Int64 = 0, _ device: String) -> HLCTimestamp {
    HLCTimestamp(millis: millis, counter: counter, device: device)
}

/// A `set` operation.
func setOp(_ device: String, _ sequence: Int64, unit: String = "muong-lay", item: String = "II.4", field: String = "status",
           value: String = "done", millis: Int64 = 1_718_845_320_000) -> Op {
    .set(device: device, sequence: sequence, timestamp: ts(millis + sequence, 0, device), unit: unit, item: item, field: field, value: value)
}

/// Reads operations written as wire JSON objects (the form of the vectors' `hub-op:` lines).
func wireOps(_ objects: [String]) throws -> [Op] {
    guard !objects.isEmpty else { return [] }
    let message = try LineCodec.decode(Array("push {\"ops\":[\(objects.joined(separator: ","))]}".utf8))
    guard case .push(let push) = message else { throw VJSONError(description: "not a push") }
    return push.ops
}

/// A live hub server on 127.0.0.1, port chosen by the system.
struct LiveHub {
    /// Keeps the hub's files alive as long as the server.
    let directory: TemporaryDirectory
    let store: HubStore
    let running: HubServer.Running
    let task: Task<Void, any Error>
    let port: Int

    static func start(_ store: HubStore, in directory: TemporaryDirectory, limits: ProtocolLimits = .v1,
                      revocationCheckInterval: Double = 5, allowsCompression: Bool = true) async throws -> LiveHub {
        let server = HubServer(store: store, configuration: .init(host: "127.0.0.1", port: 0, security: .tlsAndPlaintext(try HubTLS(identity: store.identity)), limits: limits,
                                                                  revocationCheckInterval: revocationCheckInterval,
                                                                  allowsCompression: allowsCompression,
                                                                  logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        let running = try await server.start()
        let task = Task { try await running.run() }
        let address = try HubAddress(parsing: running.address)
        return LiveHub(directory: directory, store: store, running: running, task: task, port: address.port)
    }

    var address: HubAddress { HubAddress(host: "127.0.0.1", port: port) }

    func stop() async {
        running.stop()
        _ = await task.result
        withExtendedLifetime(directory) {}
    }
}

/// One raw TCP connection speaking lines, for driving the hub byte by byte.
struct RawClient {
    /// What the hub did next.
    enum Next: Equatable {
        case line([UInt8])
        /// The hub closed the connection (or reset it).
        case closed
        /// Nothing arrived in time.
        case timedOut
    }

    /// Connects and runs `body` with the connection; closes it afterwards.
    static func with<T: Sendable>(port: Int, maximumLineBytes: Int = 8 << 20,
                                  _ body: (inout Session) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try LineChannel.configure(channel, maximumLineBytes: maximumLineBytes)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var session = Session(inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: channel.channel)
            return try await body(&session)
        }
    }

    struct Session {
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        let channel: any Channel
        var timedOut = false

        /// Sends raw bytes followed by `\n`.
        func send(_ bytes: [UInt8]) async throws {
            try await outbound.write(ByteBuffer(bytes: bytes + [0x0A]))
        }

        /// Sends a message as the codec writes it.
        func send(_ message: Message) async throws {
            try await outbound.write(LineChannel.buffer(message))
        }

        /// Sends bytes as they are, without adding anything (through the deflater when one is installed).
        func sendRaw(_ bytes: [UInt8]) async throws {
            try await outbound.write(ByteBuffer(bytes: bytes))
        }

        /// Wraps the connection in test-side raw DEFLATE streams (DeflateStreams.swift), as a device
        /// does once a `welcome` has chosen `deflate`: from then on every byte both ways is compressed.
        @discardableResult
        func enableCompression(inflating: Bool = true, deflating: Bool = true) async throws -> DeflateTap {
            let channel = self.channel
            return try await channel.eventLoop.submit {
                try TestDeflate.install(on: channel, inflating: inflating, deflating: deflating)
            }.get()
        }

        /// The next line from the hub, or closed, or timed out.
        mutating func next(timeout: Duration = .seconds(15)) async -> Next {
            let channel = self.channel
            let flag = TimeoutFlag()
            let watchdog = Task {
                try await Task.sleep(for: timeout)
                flag.fire()
                channel.close(promise: nil)
            }
            defer { watchdog.cancel() }
            do {
                guard let line = try await inbound.next() else { return flag.fired ? .timedOut : .closed }
                return .line(Array(line.readableBytesView))
            } catch {
                return flag.fired ? .timedOut : .closed
            }
        }

        /// The next line decoded as a message; records an issue and returns nil otherwise.
        mutating func message(timeout: Duration = .seconds(15), sourceLocation: SourceLocation = #_sourceLocation) async -> Message? {
            switch await next(timeout: timeout) {
            case .line(let bytes):
                do { return try LineCodec.decode(bytes) } catch {
                    Issue.record("the hub sent a line that does not decode (\(error)): \(String(decoding: bytes.prefix(200), as: UTF8.self))",
                                 sourceLocation: sourceLocation)
                    return nil
                }
            case .closed:
                Issue.record("the hub closed the connection", sourceLocation: sourceLocation)
                return nil
            case .timedOut:
                Issue.record("the hub did not answer in time", sourceLocation: sourceLocation)
                return nil
            }
        }
    }
}

final class TimeoutFlag: Sendable {
    private let state = Mutex(false)
    func fire() { state.withLock { $0 = true } }
    var fired: Bool { state.withLock { $0 } }
}

/// The ProtocolError in a message, or nil.
func errorCode(_ message: Message?) -> String? {
    guard case .error(let error) = message else { return nil }
    return error.code.rawValue
}

/// A hello for a device of the tests.
func hello(_ device: String, token: String, digest: String? = builtInPlan.digest, version: Int = ProtocolLimits.protocolVersion, compress: [String] = []) -> Message {
    .hello(Message.Hello(version: version, device: device, token: token, time: fixedHubTime, planDigest: digest, compress: compress))
}

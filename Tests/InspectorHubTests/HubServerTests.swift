import Foundation
import InspectorHub
import InspectorProtocol
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The server around the connections: accepting, and stopping while devices connect.
@Suite("HubServer")
struct HubServerTests {
    /// How a test ends the server.
    enum Ending: String, CustomTestStringConvertible, CaseIterable {
        /// `Running.stop()`, as `hub serve` does on SIGTERM and the soak between rounds.
        case stop
        /// Cancelling the task that runs `Running.run()`.
        case cancel
        var testDescription: String { rawValue }
    }

    /// apple/swift-nio#2813: a connection accepted and wrapped in an `NIOAsyncChannel` that the accept
    /// loop never took (the listening channel closed while it was being set up, or it was still queued
    /// when the loop ended) used to be dropped with its writer unfinished, and NIO traps on that
    /// ("Deinited NIOAsyncWriter without calling finish()"), taking the whole process down. Ending the
    /// server in the middle of a burst of connects, many times over, hits that window; the test passes
    /// when the process survives, `run()` ends as it should, and no connection is left open.
    @Test(arguments: Ending.allCases)
    func endingTheServerWhileDevicesConnectClosesEveryConnection(_ ending: Ending) async throws {
        let rounds = 30, clientsPerRound = 120
        for round in 0..<rounds {
            let directory = TemporaryDirectory()
            let live = try await LiveHub.start(try makeHub(directory), in: directory)
            let port = live.port
            // Connect in the background; end the server once some of the connects are through, so
            // that others are queued in the backlog, being accepted, or being set up.
            let connected = TimeoutFlag()
            let stopAfter = (round % 5 + 1) * clientsPerRound / 6
            let clients = Task.detached { () -> [Int32] in
                var sockets: [Int32] = []
                for index in 0..<clientsPerRound {
                    if let socket = LoopbackConnect.open(port: port) { sockets.append(socket) }
                    if index == stopAfter { connected.fire() }
                }
                return sockets
            }
            while !connected.fired { try await Task.sleep(for: .milliseconds(1)) }
            switch ending {
            case .stop: live.running.stop()
            case .cancel: live.task.cancel()
            }
            let served = await live.task.result
            let sockets = await clients.value
            sockets.forEach { _ = close($0) }
            switch (ending, served) {
            case (.stop, .failure(let error)):
                Issue.record("round \(round): run() failed after stop(): \(error)")
            case (.cancel, .failure(let error)) where !(error is CancellationError):
                Issue.record("round \(round): run() failed with \(error) when cancelled")
            default:
                break
            }
            // run() returns only once every session has ended.
            #expect(live.running.connectionCount == 0, "round \(round): connections left open")
            live.running.stop()
            withExtendedLifetime(directory) {}
        }
    }
}

/// Non-blocking TCP connects to 127.0.0.1, so that the test never blocks a thread of the pool the hub needs.
enum LoopbackConnect {
    /// A socket connecting (or connected) to `port`, or nil when the connect was refused at once.
    static func open(port: Int) -> Int32? {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return nil }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 || errno == EINPROGRESS else {
            _ = close(descriptor)
            return nil
        }
        return descriptor
    }
}

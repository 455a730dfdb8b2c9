import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore
import InspectorTLS
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The hub's server: devices connect over TLS 1.3 (``Security``), say `hello`, push their operations and pull the others'.
///
/// NIO handlers only frame lines; each connection is served by an async task that decodes the
/// lines and calls the ``HubStorage`` (for ``HubStore``, database work runs on GRDB's queues, never
/// on an event loop). A bad line is answered with an `error` line and the hub keeps serving.
///
/// ```swift
/// let server = HubServer(store: hub, configuration: .init(host: "127.0.0.1", port: 0, security: try .tls(for: hub)))
/// let running = try await server.start()
/// print("listening on \(running.address)")
/// try await running.run()          // until stop()
/// ```
public struct HubServer: Sendable {
    /// How connections are secured.
    public enum Security: Sendable {
        /// TLS 1.3 with the hub's key, every device presenting its own; a plain-TCP peer is answered
        /// `upgrade_required` and closed. The default, and the only choice outside a lab.
        case tls(HubTLS)
        /// TLS as above, and plain TCP too, with bearer tokens as in protocol 1: a lab's
        /// `--insecure-plaintext`. Anyone on the path reads and rewrites a plain connection.
        case tlsAndPlaintext(HubTLS)
        /// Plain TCP only: tests of the line protocol that speak it raw.
        case plaintextOnly

        /// TLS with the store's key.
        public static func tls(for store: HubStore) throws -> Security { .tls(try HubTLS(identity: store.identity)) }
    }

    /// How the server listens and what it allows.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var security: Security
        public var limits: ProtocolLimits
        /// How often a live connection re-checks that its device is not revoked, in seconds.
        public var revocationCheckInterval: Double
        /// Whether devices that offer stream compression get it.
        public var allowsCompression: Bool
        public var logger: Logger

        public init(host: String, port: Int, security: Security, limits: ProtocolLimits = .v1, revocationCheckInterval: Double = 5,
                    allowsCompression: Bool = true, logger: Logger = Logger(label: "inspectorsync.hub")) {
            self.security = security
            self.allowsCompression = allowsCompression
            self.host = host
            self.port = port
            self.limits = limits
            self.revocationCheckInterval = revocationCheckInterval
            self.logger = logger
        }
    }

    /// Where devices, the log and the merged state are kept.
    public let storage: any HubStorage
    public let configuration: Configuration

    /// A server over any hub storage.
    public init(storage: any HubStorage, configuration: Configuration) {
        self.storage = storage
        self.configuration = configuration
    }

    /// A server over a hub file.
    public init(store: HubStore, configuration: Configuration) {
        self.init(storage: store, configuration: configuration)
    }

    /// Binds the listening socket.
    ///
    /// - Returns: a running server; its ``Running/address`` has the real port when port 0 was asked.
    public func start(group: MultiThreadedEventLoopGroup = .singleton) async throws -> Running {
        let limits = configuration.limits
        let security = configuration.security
        let logger = configuration.logger
        let connections = Connections()
        let refused: @Sendable (String) -> Void = { peer in
            logger.notice("refused a plain-TCP connection (an old device, or not an InspectorSync client): upgrade_required", metadata: ["peer": "\(peer)"])
        }
        let serverChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    do {
                        return try connections.admit(channel) {
                            switch security {
                            case .tls(let tls): try tls.configure(channel, allowsPlaintext: false, onRefusal: refused)
                            case .tlsAndPlaintext(let tls): try tls.configure(channel, allowsPlaintext: true)
                            case .plaintextOnly: break
                            }
                            return try LineChannel.configure(channel, maximumLineBytes: limits.maximumLineBytes,
                                                      beforeFraming: [PreAuthenticationLimiter(maximumLineBytes: limits.maximumUnauthenticatedLineBytes)])
                        }
                    } catch {
                        // NIO's async bind does not close a child whose initializer failed (it only drops the failure).
                        channel.close(promise: nil)
                        throw error
                    }
                }
            }
        return Running(server: self, channel: serverChannel, connections: connections)
    }

    /// A bound server.
    public final class Running: Sendable {
        let server: HubServer
        let channel: NIOAsyncChannel<LineChannel.AsyncChannel, Never>
        let connections: Connections

        init(server: HubServer, channel: NIOAsyncChannel<LineChannel.AsyncChannel, Never>, connections: Connections) {
            self.server = server
            self.channel = channel
            self.connections = connections
        }

        /// The address the server listens on, e.g. `127.0.0.1:54321`.
        public var address: String {
            guard let local = channel.channel.localAddress else { return "\(server.configuration.host):\(server.configuration.port)" }
            let host = local.ipAddress ?? server.configuration.host
            let port = local.port ?? server.configuration.port
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }

        /// Serves connections until ``stop()`` (or until the calling task is cancelled).
        ///
        /// The accept loop reads the listening channel until it ends. When it has ended, every
        /// connection NIO accepted that the loop did not take is closed, so that each one's
        /// `NIOAsyncChannel` is finished (apple/swift-nio#2813, see `HubServer.Connections`); then `run()`
        /// waits for the sessions, which ``stop()`` has closed.
        public func run() async throws {
            try await withThrowingDiscardingTaskGroup { group in
                var failure: (any Error)?
                do {
                    try await channel.executeThenClose { inbound in
                        for try await connection in inbound {
                            guard connections.claim(connection) else { continue }  // stopping: closed below
                            group.addTask {
                                await HubConnection(server: self.server, channel: connection).serve()
                                self.connections.ended(connection.channel)
                            }
                        }
                    }
                } catch {
                    // The listening channel may end with an error as it closes (a connection accepted
                    // meanwhile): after stop() that is not a failure.
                    if !connections.isStopped { failure = error }
                }
                for connection in connections.closeAccepting() {
                    try? await connection.executeThenClose { _, _ in }
                }
                if let failure { throw failure }
            }
        }

        /// Stops accepting, closes every connection, and lets ``run()`` return.
        public func stop() {
            let open = connections.stop()
            channel.channel.close(promise: nil)
            for connection in open { connection.close(promise: nil) }
        }

        /// The number of open connections.
        public var connectionCount: Int { connections.servedCount }
    }

    /// The server's connections, from the moment NIO wraps them to the end of their session.
    ///
    /// Every connection NIO accepts is wrapped in an `NIOAsyncChannel` by the child channel
    /// initializer, and NIO traps ("Deinited NIOAsyncWriter without calling finish()") when one is
    /// released before `executeThenClose` has finished its writer. The accept loop does not see them
    /// all: one still being set up when the listening channel closes, or still queued when the loop
    /// ends (stop or cancellation), is dropped by NIO (apple/swift-nio#2813). So each connection is
    /// recorded as it is wrapped; the loop *claims* the ones it serves, and ``Running/run()`` closes
    /// the rest once the loop has ended. Once stopped, the initializer refuses new connections, so
    /// none can be wrapped after the last sweep.
    final class Connections: Sendable {
        private struct State {
            var isStopped = false
            /// Wrapped by the initializer, not (yet) claimed by the accept loop.
            var accepted: [ObjectIdentifier: LineChannel.AsyncChannel] = [:]
            /// Claimed, being served.
            var served: [ObjectIdentifier: any Channel] = [:]
        }

        private let state = Mutex(State())

        /// Wraps a channel just accepted (`wrap`), and records it; throws `ChannelError.ioOnClosedChannel`
        /// once the server is stopping. Runs in the child channel initializer, on the channel's event loop.
        func admit(_ channel: any Channel, wrap: () throws -> LineChannel.AsyncChannel) throws -> LineChannel.AsyncChannel {
            try state.withLock { state in
                guard !state.isStopped else { throw ChannelError.ioOnClosedChannel }
                let connection = try wrap()
                state.accepted[ObjectIdentifier(channel)] = connection
                return connection
            }
        }

        /// Takes a connection the accept loop read, to serve it; false once the server is stopping
        /// (the connection then stays recorded, and ``closeAccepting()`` returns it).
        func claim(_ connection: LineChannel.AsyncChannel) -> Bool {
            let key = ObjectIdentifier(connection.channel)
            return state.withLock { state in
                guard !state.isStopped, state.accepted.removeValue(forKey: key) != nil else { return false }
                state.served[key] = connection.channel
                return true
            }
        }

        /// Forgets a connection whose session has ended.
        func ended(_ channel: any Channel) {
            _ = state.withLock { $0.served.removeValue(forKey: ObjectIdentifier(channel)) }
        }

        /// Refuses new connections; returns the channels being served, for the caller to close.
        func stop() -> [any Channel] {
            state.withLock { state in
                state.isStopped = true
                return Array(state.served.values)
            }
        }

        /// Refuses new connections; returns (and forgets) every connection wrapped and not claimed,
        /// for the caller to close with `executeThenClose`.
        func closeAccepting() -> [LineChannel.AsyncChannel] {
            state.withLock { state in
                state.isStopped = true
                defer { state.accepted.removeAll() }
                return Array(state.accepted.values)
            }
        }

        var isStopped: Bool { state.withLock { $0.isStopped } }
        var servedCount: Int { state.withLock { $0.served.count } }
    }
}

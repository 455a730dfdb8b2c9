import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The hub's TCP server: devices connect, say `hello`, push their operations and pull the others'.
///
/// NIO handlers only frame lines; each connection is served by an async task that decodes the
/// lines and calls the ``HubStore`` (whose database work runs on GRDB's queues, never on an event
/// loop). A bad line is answered with an `error` line and the hub keeps serving.
///
/// ```swift
/// let server = HubServer(store: hub, configuration: .init(host: "127.0.0.1", port: 0))
/// let running = try await server.start()
/// print("listening on \(running.address)")
/// try await running.run()          // until stop()
/// ```
public struct HubServer: Sendable {
    /// How the server listens and what it allows.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var limits: ProtocolLimits
        /// How often a live connection re-checks that its device is not revoked, in seconds.
        public var revocationCheckInterval: Double
        /// Whether devices that offer stream compression get it.
        public var allowsCompression: Bool
        public var logger: Logger

        public init(host: String, port: Int, limits: ProtocolLimits = .v1, revocationCheckInterval: Double = 5,
                    allowsCompression: Bool = true, logger: Logger = Logger(label: "inspectorsync.hub")) {
            self.allowsCompression = allowsCompression
            self.host = host
            self.port = port
            self.limits = limits
            self.revocationCheckInterval = revocationCheckInterval
            self.logger = logger
        }
    }

    public let store: HubStore
    public let configuration: Configuration

    public init(store: HubStore, configuration: Configuration) {
        self.store = store
        self.configuration = configuration
    }

    /// Binds the listening socket.
    ///
    /// - Returns: a running server; its ``Running/address`` has the real port when port 0 was asked.
    public func start(group: MultiThreadedEventLoopGroup = .singleton) async throws -> Running {
        let limits = configuration.limits
        let serverChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try LineChannel.configure(channel, maximumLineBytes: limits.maximumLineBytes,
                                              beforeFraming: [PreAuthenticationLimiter(maximumLineBytes: limits.maximumUnauthenticatedLineBytes)])
                }
            }
        return Running(server: self, channel: serverChannel)
    }

    /// A bound server.
    public final class Running: Sendable {
        let server: HubServer
        let channel: NIOAsyncChannel<LineChannel.AsyncChannel, Never>
        let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

        init(server: HubServer, channel: NIOAsyncChannel<LineChannel.AsyncChannel, Never>) {
            self.server = server
            self.channel = channel
        }

        /// The address the server listens on, e.g. `127.0.0.1:54321`.
        public var address: String {
            guard let local = channel.channel.localAddress else { return "\(server.configuration.host):\(server.configuration.port)" }
            let host = local.ipAddress ?? server.configuration.host
            let port = local.port ?? server.configuration.port
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }

        /// Serves connections until ``stop()``.
        public func run() async throws {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        let key = ObjectIdentifier(connection.channel)
                        connections.withLock { $0[key] = connection.channel }
                        group.addTask {
                            await HubConnection(server: self.server, channel: connection).serve()
                            self.connections.withLock { _ = $0.removeValue(forKey: key) }
                        }
                    }
                }
            }
        }

        /// Stops accepting, closes every connection, and lets ``run()`` return.
        public func stop() {
            channel.channel.close(promise: nil)
            let open = connections.withLock { Array($0.values) }
            for connection in open { connection.close(promise: nil) }
        }

        /// The number of open connections.
        public var connectionCount: Int { connections.withLock { $0.count } }
    }
}

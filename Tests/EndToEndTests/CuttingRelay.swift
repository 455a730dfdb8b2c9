import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay on 127.0.0.1 between devices and a hub that counts the bytes crossing toward the
/// hub, can cut a connection after a number of them, and can slow that direction down to a rate:
/// a weak link that drops.
final class CuttingRelay: Sendable {
    let port: Int
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, Never>
    private let shared: Shared

    final class Shared: Sendable {
        let state = Mutex(State())
    }

    struct State {
        /// Bytes toward the hub that crossed, over every connection.
        var upstreamBytes = 0
        /// The cut of the next connection (bytes toward the hub), if armed.
        var nextCut: Int?
        /// Bytes per second toward the hub; nil for as fast as loopback.
        var rate: Int?
        var connections = 0
    }

    /// Every byte toward the hub that crossed so far.
    var upstreamBytes: Int { shared.state.withLock { $0.upstreamBytes } }

    /// Cuts the next connection once `bytes` toward the hub have crossed.
    func cutNext(after bytes: Int?) { shared.state.withLock { $0.nextCut = bytes } }

    /// Slows the direction toward the hub to `bytesPerSecond` (nil: no limit), from now on.
    func limit(toBytesPerSecond rate: Int?) { shared.state.withLock { $0.rate = rate } }

    private init(port: Int, server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, task: Task<Void, Never>, shared: Shared) {
        self.port = port
        self.server = server
        self.task = task
        self.shared = shared
    }

    /// A relay to the hub listening on `upstreamPort`.
    static func start(to upstreamPort: Int) async throws -> CuttingRelay {
        let raw: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0, childChannelInitializer: raw)
        let shared = Shared()
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await device in connections {
                        group.addTask { await serve(device, upstreamPort: upstreamPort, raw: raw, shared: shared) }
                    }
                }
            }
        }
        return CuttingRelay(port: server.channel.localAddress?.port ?? 0, server: server, task: task, shared: shared)
    }

    private static func serve(_ device: NIOAsyncChannel<ByteBuffer, ByteBuffer>, upstreamPort: Int,
                              raw: @escaping @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>>,
                              shared: Shared) async {
        let cut = shared.state.withLock { state -> Int? in
            state.connections += 1
            defer { state.nextCut = nil }
            return state.nextCut
        }
        guard let hub = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: upstreamPort, channelInitializer: raw) else {
            try? await device.channel.close()
            return
        }
        let channels: [any Channel] = [device.channel, hub.channel]
        try? await device.executeThenClose { deviceIn, deviceOut in
            try await hub.executeThenClose { hubIn, hubOut in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await forwardUpstream(deviceIn, to: hubOut, cut: cut, closing: channels, shared: shared) }
                    group.addTask {
                        do { for try await chunk in hubIn { try await deviceOut.write(chunk) } } catch {}
                        for channel in channels { try? await channel.close() }
                    }
                }
            }
        }
    }

    private static func forwardUpstream(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                                        cut: Int?, closing channels: [any Channel], shared: Shared) async {
        var remaining = cut ?? Int.max
        do {
            for try await var chunk in inbound {
                while chunk.readableBytes > 0 && remaining > 0 {
                    let rate = shared.state.withLock { $0.rate }
                    // Slowed: pieces of a tenth of a second's worth.
                    let piece = min(chunk.readableBytes, remaining, rate.map { max(1, $0 / 10) } ?? Int.max)
                    guard let slice = chunk.readSlice(length: piece) else { break }
                    try await outbound.write(slice)
                    shared.state.withLock { $0.upstreamBytes += piece }
                    remaining -= piece
                    if let rate { try await Task.sleep(for: .milliseconds(max(1, piece * 1000 / rate))) }
                }
                if remaining == 0 { break }
            }
        } catch {}
        for channel in channels { try? await channel.close() }
    }

    func stop() async {
        try? await server.channel.close()
        await task.value
    }
}

import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay between devices and the hub that cuts a connection after a number of bytes in either
/// direction, and can be pointed at a hub that restarted on another port.
///
/// Connections are relayed one at a time (devices in the soak sync one after the other).
public final class CuttingRelay: Sendable {
    public let port: Int
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, Never>
    private let control: Control

    struct Plan {
        var target: Int
        var hubToDevice: Int?
        var deviceToHub: Int?
    }

    final class Control: Sendable {
        let plan: Mutex<Plan>
        /// Connections whose budget ran out before either side ended them.
        let cuts = Mutex(0)
        init(target: Int) { plan = Mutex(Plan(target: target)) }
    }

    private init(port: Int, server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, task: Task<Void, Never>, control: Control) {
        self.port = port
        self.server = server
        self.task = task
        self.control = control
    }

    /// Cuts the next connection after that many bytes in each direction (nil: no limit).
    public func arm(hubToDevice: Int?, deviceToHub: Int?) {
        control.plan.withLock {
            $0.hubToDevice = hubToDevice
            $0.deviceToHub = deviceToHub
        }
    }

    /// Relays to another hub port from the next connection on.
    public func retarget(_ port: Int) { control.plan.withLock { $0.target = port } }

    /// How many connections a budget has cut so far.
    public var cuts: Int { control.cuts.withLock { $0 } }

    public static func start(to hubPort: Int) async throws -> CuttingRelay {
        let raw: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0, childChannelInitializer: raw)
        let control = Control(target: hubPort)
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { connections in
                for try await device in connections {
                    // Each budget applies to one connection.
                    let plan = control.plan.withLock { plan in
                        defer { plan.hubToDevice = nil; plan.deviceToHub = nil }
                        return plan
                    }
                    guard let hub = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connect(host: "127.0.0.1", port: plan.target, channelInitializer: raw) else {
                        try? await device.channel.close()
                        continue
                    }
                    let channels: [any Channel] = [device.channel, hub.channel]
                    try? await device.executeThenClose { deviceIn, deviceOut in
                        try await hub.executeThenClose { hubIn, hubOut in
                            let cut = await withTaskGroup(of: Bool.self) { group in
                                group.addTask { await pipe(deviceIn, to: hubOut, budget: plan.deviceToHub, closing: channels) }
                                group.addTask { await pipe(hubIn, to: deviceOut, budget: plan.hubToDevice, closing: channels) }
                                var cut = false
                                for await wasCut in group { cut = cut || wasCut }
                                return cut
                            }
                            if cut { control.cuts.withLock { $0 += 1 } }
                        }
                    }
                }
            }
        }
        return CuttingRelay(port: server.channel.localAddress?.port ?? 0, server: server, task: task, control: control)
    }

    /// Copies bytes until the budget is spent or a side ends; true when the budget ended it.
    private static func pipe(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                             budget: Int?, closing channels: [any Channel]) async -> Bool {
        var remaining = budget ?? Int.max
        var cut = false
        do {
            if remaining == 0 {
                cut = true
            } else {
                for try await var chunk in inbound {
                    let allowed = min(chunk.readableBytes, remaining)
                    if let slice = chunk.readSlice(length: allowed), slice.readableBytes > 0 { try await outbound.write(slice) }
                    remaining -= allowed
                    if remaining == 0 {
                        cut = true
                        break
                    }
                }
            }
        } catch {}
        // One side ended or the budget is spent: cut both.
        for channel in channels { try? await channel.close() }
        return cut
    }

    public func stop() async {
        try? await server.channel.close()
        await task.value
    }
}

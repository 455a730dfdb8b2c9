import NIOCore
import NIOPosix

/// A loopback TCP relay that cuts the connection after a number of bytes from the hub, in the middle
/// of a line — the way a phone losing signal cuts a sync.
struct CuttingProxy {
    let upstreamHost: String
    let upstreamPort: Int
    /// Bytes from the hub to let through before cutting; nil relays everything.
    let cutAfter: Int

    struct Cut: Error {}

    /// Listens on 127.0.0.1 (port 0) and relays one connection; returns the port and the relay task.
    func start() async throws -> (port: Int, task: Task<Void, Never>) {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { inbound in
                for try await device in inbound {
                    try? await relay(device)
                    return
                }
            }
        }
        return (port, task)
    }

    private func relay(_ device: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
        let hub = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: upstreamHost, port: upstreamPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let limit = cutAfter
        try await device.executeThenClose { deviceIn, deviceOut in
            try await hub.executeThenClose { hubIn, hubOut in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await bytes in deviceIn { try await hubOut.write(bytes) }
                    }
                    group.addTask {
                        var passed = 0
                        for try await var bytes in hubIn {
                            if passed + bytes.readableBytes > limit {
                                if let part = bytes.readSlice(length: limit - passed) { try await deviceOut.write(part) }
                                throw Cut()
                            }
                            passed += bytes.readableBytes
                            try await deviceOut.write(bytes)
                        }
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
        }
    }
}

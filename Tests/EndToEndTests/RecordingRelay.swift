import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP relay on 127.0.0.1 that forwards bytes both ways to an upstream port and records every
/// byte it forwards: what someone on the network path sees.
final class RecordingRelay: Sendable {
    private let server: any Channel
    private let captured = NIOLockedValueBox<[UInt8]>([])

    /// Every byte relayed so far, both directions, in arrival order.
    var bytes: Data { Data(captured.withLockedValue { $0 }) }
    var port: Int { server.localAddress?.port ?? 0 }

    /// One side of a relayed connection: forwards what it reads to its partner, and records it.
    private final class Forward: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var partner: (any Channel)?
        var pending: [ByteBuffer] = []
        let record: @Sendable ([UInt8]) -> Void
        init(record: @escaping @Sendable ([UInt8]) -> Void) { self.record = record }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            record(Array(buffer.readableBytesView))
            if let partner { partner.writeAndFlush(buffer, promise: nil) } else { pending.append(buffer) }
        }
        func channelInactive(context: ChannelHandlerContext) { partner?.close(promise: nil) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
        func connect(to channel: any Channel) {
            partner = channel
            for buffer in pending { channel.writeAndFlush(buffer, promise: nil) }
            pending.removeAll()
        }
    }

    init(upstreamPort: Int) throws {
        let captured = self.captured
        let record: @Sendable ([UInt8]) -> Void = { bytes in captured.withLockedValue { $0 += bytes } }
        server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { inbound in
                let downstream = Forward(record: record)
                let upstream = Forward(record: record)
                return inbound.pipeline.addHandler(downstream).flatMap {
                    ClientBootstrap(group: inbound.eventLoop)
                        .channelInitializer { $0.pipeline.addHandler(upstream) }
                        .connect(host: "127.0.0.1", port: upstreamPort)
                        .map { outbound in
                            upstream.partner = inbound
                            downstream.connect(to: outbound)
                        }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func stop() { server.close(promise: nil) }
}

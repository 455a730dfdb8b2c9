import Foundation
import InspectorCore
import InspectorProtocol
import InspectorTLS
import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A client speaking the line protocol by hand, lines out, lines in, nothing else: over TLS as a
/// device (its key in a key file, the hub's key pinned from an enrollment line), or over bare TCP.
final class RawLineClient: @unchecked Sendable {  // used by one task at a time
    private enum Transport {
        case socket(Int32)
        case tls(any Channel, Inbox)
    }

    /// The bytes a TLS connection has received, and whether it has ended.
    final class Inbox: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let condition = NSCondition()
        var bytes: [UInt8] = []
        var ended = false
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            condition.lock(); bytes += buffer.readableBytesView; condition.broadcast(); condition.unlock()
        }
        func channelInactive(context: ChannelHandlerContext) { end() }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { end(); context.close(promise: nil) }
        private func end() { condition.lock(); ended = true; condition.broadcast(); condition.unlock() }
    }

    private let transport: Transport
    private let timeoutSeconds: Int
    private var buffer: [UInt8] = []

    /// A bare TCP connection (what a version 1 device or a port scanner opens).
    /// The device key of a TLS connection: it signs ``signedPush(_:previous:)``'s heads.
    private(set) var identity: TLSIdentity?

    init(plainPort port: UInt16, timeoutSeconds: Int = 10) throws {
        self.timeoutSeconds = timeoutSeconds
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw ProcessError.launch("socket() failed: errno \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw ProcessError.launch("connect() to port \(port) failed: errno \(errno)")
        }
        transport = .socket(descriptor)
    }

    /// A TLS connection as a device: its key in `keyFile` (made if absent, as `inspector init` does),
    /// the hub's key pinned from the enrollment `line`.
    init(port: UInt16, line: String, keyFile: String, timeoutSeconds: Int = 10) throws {
        self.timeoutSeconds = timeoutSeconds
        let enrollment = try EnrollmentLine(parsing: line)
        guard let pin = enrollment.hubKey else { throw ProcessError.launch("the enrollment line has no hub key") }
        let identity = try TLSIdentity.loadOrCreate(keyFile: keyFile)
        self.identity = identity
        let tls = try DeviceTLS(identity: identity, pinnedHubKey: pin)
        let inbox = Inbox()
        let channel = try ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(Int64(timeoutSeconds)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(recordingIn: DeviceTLS.Presented()))
                    try channel.pipeline.syncOperations.addHandler(inbox)
                }
            }
            .connect(host: "127.0.0.1", port: Int(port)).wait()
        transport = .tls(channel, inbox)
    }

    deinit {
        switch transport {
        case .socket(let descriptor): close(descriptor)
        case .tls(let channel, _): channel.close(promise: nil)
        }
    }

    /// A `push` line of these op objects with the device's signed chain head over them
    /// (PROTOCOL.md 19.3), as an honest device sends it: the ops are the device's next run.
    func signedPush(_ opObjects: [String], previous: ChainHash = .genesis) throws -> String {
        guard let identity else { throw ProcessError.launch("a plain TCP client has no device key") }
        let ops = try opObjects.map { try Op(wireJSON: $0) }
        let head = try ChainSegment.make(device: ops[0].device, previous: previous, operations: ops, leavingOut: [], signingKey: identity.privateKey)
        return LineCodec.encodeString(.push(Message.Push(ops: ops, head: head))).trimmingCharacters(in: .newlines)
    }

    /// Sends one line (the newline is added).
    func send(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        switch transport {
        case .socket(let descriptor):
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                guard n > 0 else { throw ProcessError.launch("write() failed: errno \(errno)") }
                sent += n
            }
        case .tls(let channel, _):
            try channel.writeAndFlush(ByteBuffer(bytes: bytes)).wait()
        }
    }

    /// Reads one line (without its newline); nil when the hub closed the connection or said nothing in time.
    func receive() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            switch transport {
            case .socket(let descriptor):
                var chunk = [UInt8](repeating: 0, count: 64 * 1024)
                let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                guard n > 0 else { return nil }
                buffer.append(contentsOf: chunk[..<n])
            case .tls(_, let inbox):
                let deadline = Date().addingTimeInterval(Double(timeoutSeconds))
                inbox.condition.lock()
                while inbox.bytes.isEmpty && !inbox.ended {
                    guard inbox.condition.wait(until: deadline) else { break }
                }
                let arrived = inbox.bytes
                inbox.bytes.removeAll()
                inbox.condition.unlock()
                guard !arrived.isEmpty else { return nil }
                buffer.append(contentsOf: arrived)
            }
        }
    }

    /// Sends a line and reads the answer, split into its verb and parsed JSON body.
    func request(_ line: String) throws -> (verb: String, body: [String: Any]) {
        try send(line)
        guard let answer = receive() else { throw ProcessError.timeout("no answer to '\(line.prefix(60))'") }
        guard let space = answer.firstIndex(of: " "),
              let body = try JSONSerialization.jsonObject(with: Data(answer[answer.index(after: space)...].utf8)) as? [String: Any] else {
            throw ProcessError.launch("the hub answered a line that is not 'VERB {json}': \(answer.prefix(200))")
        }
        return (String(answer[..<space]), body)
    }
}

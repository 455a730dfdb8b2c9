import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore
import InspectorTLS
import Logging
import NIOCore
import Synchronization

/// One device's connection to the hub: handshake, then pushes and pulls, until `bye` or a timeout.
struct HubConnection {
    let server: HubServer
    let channel: LineChannel.AsyncChannel

    /// The state a watchdog reads: when the peer last spoke, and who it is.
    final class Activity: Sendable {
        struct State {
            var lastSeen: ContinuousClock.Instant
            /// Whether a `hello` has arrived: from then on the handshake's own work (which may wait
            /// for the store on a loaded hub) is covered by the idle timeout, not the handshake timeout.
            var saidHello = false
            var device: String?
        }
        let state = Mutex(State(lastSeen: .now, device: nil))
        func touch() { state.withLock { $0.lastSeen = .now } }
    }

    func serve() async {
        let logger = server.configuration.logger
        let limits = server.configuration.limits
        let activity = Activity()
        let started = ContinuousClock.now
        let peer = channel.channel.remoteAddress?.description ?? "unknown peer"
        do {
            try await channel.executeThenClose { inbound, outbound in
                let watchdog = Task { await watch(activity: activity, started: started, outbound: outbound) }
                defer { watchdog.cancel() }
                var session: Session?
                var refusedInARow = 0
                do {
                    for try await line in inbound {
                        activity.touch()
                        if session == nil && line.readableBytes > limits.maximumUnauthenticatedLineBytes {
                            try await send(.error(ProtocolError(.lineTooLong, "a line before the handshake may hold at most \(limits.maximumUnauthenticatedLineBytes) bytes")), outbound)
                            return
                        }
                        if line.readableBytes > limits.maximumLineBytes {
                            try await send(.error(ProtocolError(.lineTooLong, "a line may hold at most \(limits.maximumLineBytes) bytes")), outbound)
                            return
                        }
                        let message: Message
                        do throws(ProtocolError) {
                            message = try LineChannel.decode(line)
                        } catch {
                            logger.info("refused a line", metadata: ["peer": "\(peer)", "code": "\(error.code)"])
                            try await send(.error(error), outbound)
                            refusedInARow += 1
                            if session == nil { return }
                            if refusedInARow >= Self.maximumRefusedLinesInARow {
                                try await send(.error(ProtocolError(.badLine, "\(refusedInARow) unreadable lines in a row; closing")), outbound)
                                return
                            }
                            continue
                        }
                        refusedInARow = 0
                        if var current = session {
                            let goOn = try await handle(message, session: &current, activity: activity, outbound: outbound)
                            session = current
                            if !goOn { return }
                        } else {
                            guard case .hello(let hello) = message else {
                                try await send(.error(ProtocolError(.notAuthenticated, "say hello first")), outbound)
                                return
                            }
                            activity.state.withLock { $0.saidHello = true }
                            guard let opened = try await handshake(hello, outbound: outbound) else { return }
                            session = opened
                            activity.state.withLock { $0.device = opened.device.id }
                            logger.info("device connected", metadata: ["device": "\(opened.device.id)", "peer": "\(peer)"])
                        }
                    }
                } catch let refusal as ProtocolError where refusal.code == .lineTooLong {
                    // PreAuthenticationLimiter: an unterminated line over the limit before the handshake.
                    try? await send(.error(refusal), outbound)
                } catch where LineChannel.isLineTooLong(error) {
                    try? await send(.error(ProtocolError(.lineTooLong, "a line may hold at most \(limits.maximumLineBytes) bytes")), outbound)
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["peer": "\(peer)", "error": "\(type(of: error))"])
        }
    }

    /// Unreadable lines in a row after which a session is closed (a flood is not a peer's mistake).
    static let maximumRefusedLinesInARow = 100

    /// The most files a session remembers as offered at once.
    static let maximumOffersPerSession = 10_000

    struct Session {
        var device: HubStore.Device
        var scope: Set<String>
        var clockOffset: Int64
        /// Whether this session's pulls are compact (PROTOCOL.md 11.6).
        var compact: Bool
        /// The files offered in this session, by hash: their sizes (PROTOCOL.md 20).
        var offered: [String: Int64] = [:]
    }

    private func send(_ message: Message, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        try await outbound.write(LineChannel.buffer(message))
    }

    private func handshake(_ hello: Message.Hello, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Session? {
        let store = server.storage
        guard hello.version == ProtocolLimits.protocolVersion else {
            let refusal = hello.version < ProtocolLimits.protocolVersion
                ? ProtocolError(.upgradeRequired, "this hub speaks protocol version \(ProtocolLimits.protocolVersion) (TLS, device keys); upgrade the device's InspectorSync")
                : ProtocolError(.unsupportedVersion, "this hub speaks protocol version \(ProtocolLimits.protocolVersion)")
            try await send(.error(refusal), outbound)
            return nil
        }
        let key: KeyFingerprint?
        switch await HubTLS.transport(of: channel.channel) {
        case .plaintext: key = nil
        case .tls(let presented):
            guard let presented else {
                try await send(.error(ProtocolError(.unauthorized, "a device presents its certificate")), outbound)
                return nil
            }
            key = presented
        }
        let authenticated: HubStore.Device?
        do {
            authenticated = try await store.authenticate(device: hello.device, token: hello.token, key: key)
        } catch let refusal as ProtocolError {
            server.configuration.logger.notice("refused a handshake", metadata: ["device": "\(hello.device.excerpt(64))", "code": "\(refusal.code)"])
            try await send(.error(refusal), outbound)
            return nil
        } catch {
            // The store could not read or enroll (a full disk): say so, in the one mapping to the wire.
            server.configuration.logger.warning("could not authenticate", metadata: ["device": "\(hello.device.excerpt(64))", "error": "\(type(of: error))"])
            try await send(.error(ProtocolError(answering: error)), outbound)
            return nil
        }
        guard let device = authenticated else {
            server.configuration.logger.notice("refused a handshake", metadata: ["device": "\(hello.device.excerpt(64))", "key": "\(key?.description ?? "none (plain TCP)")"])
            try await send(.error(ProtocolError(.unauthorized, "unknown device, wrong token, another key than the enrolled one, or revoked device")), outbound)
            return nil
        }
        try await store.reloadUnits()
        let scope = store.scope(of: device)
        let plan = store.plan
        let digest = plan.digest
        let now = store.now()
        // A peer's `time` may be any Int64: the offset is bounded, never overflowing here or later.
        let clockOffset = HybridLogicalClock.offset(from: now, to: hello.time)
        let confirmed = try await store.confirmed(device: device.id)
        let units = store.units.filter { scope.contains($0.id) }
        // A count for the device's progress (PROTOCOL.md 4.2); informative, so a failure leaves it out.
        var toPull: Int64?
        if let cursor = hello.cursor {
            toPull = (try? await store.pullCount(after: max(cursor, 0), for: device.id, scope: scope, compact: hello.compact)).map(Int64.init)
        }
        // Over TLS, the keys that sign the chains the device may meet in bundles (PROTOCOL.md 19.4);
        // informative like `to_pull`, so a failure leaves them out.
        let keys = key == nil ? [:] : (try? await store.authorKeys()) ?? [:]
        do {
            try await store.recordHandshake(device: device.id, at: now, clockOffset: clockOffset)
        } catch {
            // Bookkeeping only (last sync, clock offset): a hub that cannot write (a full disk) still serves pulls.
            server.configuration.logger.warning("could not record a handshake", metadata: ["device": "\(device.id)", "error": "\(type(of: error))"])
        }
        let compress = server.configuration.allowsCompression && hello.compress.contains(StreamCompression.deflate) ? StreamCompression.deflate : nil
        let welcome = Message.welcome(Message.Welcome(time: now, confirmed: confirmed, scope: scope.sorted(), units: units,
                                                      planDigest: digest, plan: hello.planDigest == digest ? nil : plan, compress: compress,
                                                      toPull: toPull, keys: keys))
        // The session is authenticated from here: on the event loop, before the welcome is written (so
        // before the device can send its next line), the 1 MiB regime replaces the pre-handshake limit.
        let raw = channel.channel
        try await raw.eventLoop.submit {
            PreAuthenticationLimiter.lift(on: raw)
            if compress != nil {
                // The welcome goes out uncompressed; every later byte, both ways, is in the DEFLATE streams.
                try StreamCompression.enable(on: raw, effort: .balanced, beforeCompressing: LineChannel.buffer(welcome))
            }
        }.get()
        if compress == nil {
            try await send(welcome, outbound)
        }
        return Session(device: device, scope: scope, clockOffset: clockOffset, compact: hello.compact)
    }

    /// Serves one message of an authenticated session; false ends the connection.
    private func handle(_ message: Message, session: inout Session, activity: Activity,
                        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Bool {
        let limits = server.configuration.limits
        switch message {
        case .push(let push):
            let session = try await refreshed(session)
            guard push.ops.count <= limits.maximumBatchCount else {
                try await send(.error(ProtocolError(.batchTooLarge, "a push may hold at most \(limits.maximumBatchCount) operations")), outbound)
                return true
            }
            do throws(ProtocolError) {
                let pushed = try await server.storage.push(push, from: session.device, scope: session.scope, clockOffset: session.clockOffset)
                try? await send(.pushed(pushed), outbound)
            } catch {
                server.configuration.logger.notice("refused a push", metadata: ["device": "\(session.device.id)", "code": "\(error.code)"])
                try await send(.error(error), outbound)
            }
            return true
        case .pull(let pull):
            let session = try await refreshed(session)
            let limit = min(max(pull.limit ?? limits.maximumBatchCount, 1), limits.maximumBatchCount)
            if let report = pull.heldBack {
                do {
                    try await server.storage.recordHeldBack(device: session.device.id, report: report, at: server.storage.now())
                } catch {
                    server.configuration.logger.warning("could not record held-back ops", metadata: ["device": "\(session.device.id)"])
                }
            }
            do {
                let batch = try await server.storage.pull(after: max(pull.cursor, 0), limit: limit, for: session.device.id, scope: session.scope,
                                                          compact: session.compact)
                try await send(.ops(batch), outbound)
            } catch {
                try await send(.error(ProtocolError(answering: error)), outbound)
            }
            return true
        case .offer(let offer):
            do throws(ProtocolError) {
                let state = try await server.storage.offer(offer, from: session.device.id)
                // A session keeps at most a bounded number of offers (a flood is not a peer's mistake).
                if session.offered.count >= Self.maximumOffersPerSession { session.offered.removeAll() }
                session.offered[offer.hash] = offer.size
                try? await send(.want(state), outbound)
            } catch {
                try await send(.error(error), outbound)
            }
            return true
        case .chunk(let chunk):
            guard let size = session.offered[chunk.hash] else {
                try await send(.error(ProtocolError(.badChunk, "a chunk of \(chunk.hash.prefix(16))…, which this session has not offered; send 'offer' first")), outbound)
                return true
            }
            do throws(ProtocolError) {
                let state = try await server.storage.store(chunk, size: size)
                try? await send(.stored(state), outbound)
            } catch {
                server.configuration.logger.notice("refused a chunk", metadata: ["device": "\(session.device.id)", "code": "\(error.code)"])
                try await send(.error(error), outbound)
            }
            return true
        case .fetch(let fetch):
            // The file's bytes from the offset to its end, one chunk line after another; the
            // channel's backpressure keeps one chunk in this process's memory at a time. Each chunk
            // written counts as activity (the device is silent while it receives); a write that
            // fails (the device has gone) ends the session.
            let scope = try await refreshed(session).scope
            let size: Int64
            do throws(ProtocolError) {
                size = try await server.storage.fetchable(fetch.hash, scope: scope)
                guard fetch.offset >= 0, fetch.offset < size else {
                    throw ProtocolError(.badChunk, "the file \(fetch.hash.prefix(16))… has \(size) bytes; fetch from 0 to \(size - 1), not \(fetch.offset)")
                }
            } catch {
                try await send(.error(error), outbound)
                return true
            }
            var offset = fetch.offset
            while offset < size {
                let count = Int(min(Int64(fetch.servedChunkBytes), size - offset))
                let data: [UInt8]
                do throws(ProtocolError) {
                    data = try await server.storage.readFile(fetch.hash, at: offset, count: count)
                    guard data.count == count else { throw ProtocolError(.storageFailed, "the hub's file \(fetch.hash.prefix(16))… is shorter than its size") }
                } catch {
                    try await send(.error(error), outbound)
                    return true
                }
                try await send(.chunk(Message.Chunk(hash: fetch.hash, offset: offset, data: data)), outbound)
                activity.touch()
                offset += Int64(count)
            }
            return true
        case .bye:
            try await send(.bye, outbound)
            return false
        case .hello:
            try await send(.error(ProtocolError(.notAuthenticated, "the handshake is already done")), outbound)
            return true
        case .welcome, .pushed, .ops, .want, .stored, .error:
            try await send(.error(ProtocolError(.unknownVerb, "'\(message.verb)' is sent by the hub, not to it")), outbound)
            return true
        }
    }

    /// The session with its scope recomputed, so that units added while it is open are included.
    private func refreshed(_ session: Session) async throws -> Session {
        try await server.storage.reloadUnits()
        var updated = session
        updated.scope = server.storage.scope(of: session.device)
        return updated
    }

    /// Closes the connection when it does not authenticate in time, goes idle, or its device is revoked.
    private func watch(activity: Activity, started: ContinuousClock.Instant, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async {
        let configuration = server.configuration
        var lastRevocationCheck = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            if Task.isCancelled { return }
            let (lastSeen, saidHello, device) = activity.state.withLock { ($0.lastSeen, $0.saidHello, $0.device) }
            let now = ContinuousClock.now
            var reason: ProtocolError?
            if !saidHello && now - started > .seconds(configuration.limits.authenticationTimeout) {
                reason = ProtocolError(.timeout, "no handshake within \(Int(configuration.limits.authenticationTimeout)) s")
            } else if now - lastSeen > .seconds(configuration.limits.idleTimeout) {
                reason = ProtocolError(.timeout, "idle for \(Int(configuration.limits.idleTimeout)) s")
            } else if let device, now - lastRevocationCheck > .seconds(configuration.revocationCheckInterval) {
                lastRevocationCheck = now
                if let record = try? await server.storage.device(device), record.isRevoked {
                    reason = ProtocolError(.unauthorized, "this device has been revoked")
                }
            }
            if let reason {
                try? await send(.error(reason), outbound)
                channel.channel.close(promise: nil)
                return
            }
        }
    }
}

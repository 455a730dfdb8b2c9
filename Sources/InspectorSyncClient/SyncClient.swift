import Crypto
import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore
import InspectorTLS
import NIOCore
import NIOPosix
import NIOSSL

/// A device's sync with the hub: handshake, push what the hub lacks, pull what the device lacks.
///
/// Progress is saved batch by batch in the replica (the hub's confirmed sequence number after each
/// acknowledged push, the pull cursor together with each pulled batch), so a sync cut at any byte
/// resumes where it stopped: nothing is applied twice, nothing is lost, nothing starts from zero.
///
/// ```swift
/// let summary = try await SyncClient(store: store).sync()
/// print("pushed \(summary.pushed), pulled \(summary.pulled)")
/// ```
public struct SyncClient: Sendable {
    /// What a sync did.
    public struct Summary: Sendable, Hashable {
        public var pushed = 0
        public var pulled = 0
        public var newConflicts = 0
        /// Operations the hub refused during this sync; they are set aside and the rest flows.
        public var refused: [RefusedOp] = []
        /// This device's own edits recorded again with a corrected clock (their old ops were stamped
        /// too far ahead and are set aside), oldest first.
        public var recordedAgain: [Op] = []
        /// This device's unsent operations whose timestamps were corrected at its first handshake.
        public var corrected = 0
        /// Pulled operations held back during this sync because this device cannot store them.
        public var heldBack: [ReplicaStore.HeldBackOp] = []
        /// Held-back operations that could be stored during this sync.
        public var released = 0
        /// Hub time minus device time, ms.
        public var clockOffset: Int64 = 0
        /// The highest sequence number of this device the hub holds with all before it.
        public var confirmed: Int64 = 0
        /// Files of attachments the hub now holds that it did not before this sync, and the bytes of
        /// them sent (a resumed file sends only what the hub lacked).
        public var filesSent = 0
        public var fileBytesSent: Int64 = 0
        /// Files fetched whole from the hub during this sync, and the bytes of them received.
        public var filesFetched = 0
        public var fileBytesFetched: Int64 = 0
        /// Bytes this device wrote to the socket, and read from it (compressed, when negotiated).
        public var bytesSent = 0
        public var bytesReceived = 0
    }

    /// What one session (one connection) did, and whether the sync must pull again in full.
    private struct Session {
        var summary: Summary
        /// A compact session held an op back, so the cursor went back to 0 for a full pull.
        var pullsInFullNext: Bool
    }

    /// Where a sync is: each phase in order, with its totals before any of its work moves.
    public enum Progress: Sendable, Hashable {
        /// Opening the connection and shaking hands with the hub.
        case connecting
        /// `done` of this device's `total` operations the hub lacked are acknowledged; first reported
        /// with `done` 0 before the first push (and not at all when there is nothing to push).
        case pushing(done: Int, total: Int)
        /// `received` of the `total` operations the hub announced at the handshake have arrived;
        /// first reported with `received` 0 before the first pull. `total` is nil from a hub that
        /// does not count (PROTOCOL.md 4.2), and grows with `received` when more came in meanwhile.
        case pulling(received: Int, total: Int?)
        /// `bytes` of the `total` bytes of this device's files the hub had not confirmed are held by
        /// the hub (PROTOCOL.md 20); reported after the ops, first with what the hub already held.
        case uploading(bytes: Int64, total: Int64)
        /// `bytes` of the `total` bytes of the files this sync fetches are held here (PROTOCOL.md 20.4).
        case downloading(bytes: Int64, total: Int64)
    }

    /// Clock offsets beyond this are warned about.
    public static let clockWarningThreshold: Int64 = 5 * 60 * 1000

    /// An offset beyond this, learnt at a device's first handshake, corrects its unsent ops (PROTOCOL.md 9.7).
    public static let clockCorrectionThreshold: Int64 = 1000

    public let store: ReplicaStore
    public let address: HubAddress
    /// The enrollment secret the device says `hello` with (PROTOCOL.md 9.8).
    public let token: String
    /// How the connection is secured: TLS with the device's key and the pinned hub key, or, for a
    /// lab hub, plain TCP.
    public let security: Security

    /// The key that signs this device's operation chain: the device key of its TLS identity; nil over
    /// a lab hub's plain TCP, whose pushes go unsigned.
    var signingKey: P256.Signing.PrivateKey? {
        if case .tls(let tls) = security { return tls.identity.privateKey }
        return nil
    }
    public let batchSize: Int
    public let responseTimeout: Duration
    public let progress: (@Sendable (Progress) -> Void)?
    /// Whether to offer stream compression at the handshake.
    public let compresses: Bool

    /// How a device's connection to its hub is secured.
    public enum Security: Sendable {
        /// TLS 1.3: the device presents its key and accepts only the pinned hub key.
        case tls(DeviceTLS)
        /// Plain TCP, for a lab hub started with `--insecure-plaintext`: anyone on the path reads
        /// and rewrites it.
        case plaintext
    }

    /// The file that holds a replica's device key: the replica's path with `.key` appended.
    public static func keyFile(of store: ReplicaStore) -> String { store.path + ".key" }

    /// - Parameters:
    ///   - store: the device replica.
    ///   - address: the hub; by default the one saved at `init`.
    ///   - token: the device's enrollment line (`SECRET@sha256:…`); by default the one saved at `init`.
    ///   - batchSize: the most ops of one push and one pull; by default ``defaultBatchSize`` (2000).
    ///     Both sides also bound a batch by bytes (512 KiB), well under the line limit.
    ///   - allowsPlaintext: whether an enrollment line without a hub key may sync over plain TCP (a
    ///     lab hub). A line with a hub key always syncs over TLS.
    ///   - identity: the device's key; by default the one in ``keyFile(of:)``, made there if absent.
    /// - Throws: ``SyncError`` `not_configured` without a hub, or with a line without a hub key and
    ///   plain TCP not allowed; `bad_key` for a line or key file that cannot be read.
    public init(store: ReplicaStore, address: HubAddress? = nil, token: String? = nil, batchSize: Int = SyncClient.defaultBatchSize,
                responseTimeout: Duration = .seconds(60), compresses: Bool = true, allowsPlaintext: Bool = false,
                identity: TLSIdentity? = nil, progress: (@Sendable (Progress) -> Void)? = nil) throws {
        self.store = store
        self.compresses = compresses
        let saved = try store.hubLink()
        guard let resolved = try address ?? saved.map({ try HubAddress(parsing: $0.address) }), let token = token ?? saved?.token else {
            throw SyncError(.notConfigured, "this replica does not know its hub; create it with 'inspector init --hub HOST:PORT --token LINE'")
        }
        let line: EnrollmentLine
        do {
            line = try EnrollmentLine(parsing: token)
        } catch {
            throw SyncError(.badKey, error.message)
        }
        if let pin = line.hubKey {
            do {
                let key = try identity ?? TLSIdentity.loadOrCreate(keyFile: Self.keyFile(of: store))
                security = .tls(try DeviceTLS(identity: key, pinnedHubKey: pin))
            } catch let error as ProtocolError {
                throw SyncError(.badKey, error.message)
            } catch {
                throw SyncError(.tlsFailed, "cannot set up TLS: \(error)")
            }
        } else {
            guard allowsPlaintext else {
                throw SyncError(.notConfigured, "the enrollment line carries no hub key to pin, so this device would sync in clear; use the line 'hub device add' printed, or allow plain TCP for a lab hub (--insecure-plaintext)")
            }
            security = .plaintext
        }
        self.address = resolved
        self.token = line.secret
        self.batchSize = min(max(batchSize, 1), ProtocolLimits.v1.maximumBatchCount)
        self.responseTimeout = responseTimeout
        self.progress = progress
    }

    /// Runs one sync.
    ///
    /// - Throws: ``SyncError``; what was confirmed or pulled before the error stays saved.
    public func sync() async throws -> Summary {
        let first = try await syncOnce()
        var summary = first.summary
        if first.pullsInFullNext {
            // A compact first sync held an op back (PROTOCOL.md 11.6): it may supersede values the
            // compact pull left out, which this device can show instead. Pull everything, in full.
            let full = try await syncOnce().summary
            let seen = Set(summary.heldBack.map { "\($0.device ?? "")#\($0.sequence ?? 0)" })
            summary.pushed += full.pushed
            summary.pulled += full.pulled
            summary.newConflicts += full.newConflicts
            summary.refused += full.refused
            summary.recordedAgain += full.recordedAgain
            summary.released += full.released
            summary.heldBack += full.heldBack.filter { !seen.contains("\($0.device ?? "")#\($0.sequence ?? 0)") }
            summary.confirmed = full.confirmed
            summary.clockOffset = full.clockOffset
            summary.filesSent += full.filesSent
            summary.fileBytesSent += full.fileBytesSent
            summary.filesFetched += full.filesFetched
            summary.fileBytesFetched += full.fileBytesFetched
            summary.bytesSent += full.bytesSent
            summary.bytesReceived += full.bytesReceived
        }
        guard summary.heldBack.contains(where: { $0.code == CoreError.Code.unknownUnit.rawValue }) else { return summary }
        // A unit was added at the hub after this session's welcome and its ops arrived in the pull:
        // they were held back. A new handshake brings the unit and releases them; try once more.
        var again = try await syncOnce().summary
        again.pushed += summary.pushed
        again.pulled += summary.pulled
        again.newConflicts += summary.newConflicts
        again.refused = summary.refused + again.refused
        again.recordedAgain = summary.recordedAgain + again.recordedAgain
        again.corrected += summary.corrected
        again.filesSent += summary.filesSent
        again.fileBytesSent += summary.fileBytesSent
        again.filesFetched += summary.filesFetched
        again.fileBytesFetched += summary.fileBytesFetched
        let released = Set(again.heldBack.map { "\($0.device ?? "")#\($0.sequence ?? 0)" })
        again.heldBack = summary.heldBack.filter { released.contains("\($0.device ?? "")#\($0.sequence ?? 0)") } + again.heldBack
        return again
    }

    private func syncOnce() async throws -> Session {
        let channel: LineChannel.AsyncChannel
        progress?(.connecting)
        let presented = DeviceTLS.Presented()
        let security = self.security
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if case .tls(let tls) = security {
                            try tls.configure(channel.pipeline.syncOperations, recordingIn: presented)
                        }
                        return try LineChannel.configure(channel, maximumLineBytes: ProtocolLimits.v1.maximumLineBytes)
                    }
                }
        } catch {
            throw SyncError(.connectionFailed, "cannot reach the hub at \(address)")
        }
        do {
            let counter = try await LineChannel.counter(of: channel.channel)
            var session = try await channel.executeThenClose { inbound, outbound in
                var conversation = Conversation(inbound: inbound.makeAsyncIterator(), outbound: outbound,
                                                channel: channel.channel, timeout: responseTimeout)
                return try await run(&conversation)
            }
            session.summary.bytesSent = counter.bytesWritten
            session.summary.bytesReceived = counter.bytesRead
            return session
        } catch let error as SyncError {
            if error.code == .connectionFailed, let reason = transportFailure(error, presented: presented) { throw reason }
            throw error
        } catch let error as StoreError {
            throw error
        } catch let error as CoreError {
            throw error
        } catch {
            throw transportFailure(error, presented: presented)
                ?? SyncError(.connectionFailed, "the connection to the hub broke; run sync again to resume")
        }
    }

    /// What a broken connection means when TLS broke it: a hub presenting another key than the pinned
    /// one, or a peer that is not a TLS server (it answered the handshake with something else); nil
    /// when the connection just broke (a cut, at any byte of the handshake or after it, is resumed by
    /// the next sync like any other).
    private func transportFailure(_ error: any Error, presented: DeviceTLS.Presented) -> SyncError? {
        if case .tls(let tls) = security {
            if let key = presented.hubKey, key != tls.pinnedHubKey {
                return SyncError(.hubKeyMismatch, "the hub at \(address) presented the key \(key), but this device pinned \(tls.pinnedHubKey) at enrollment; nothing was sent. Someone may be intercepting the connection, or the hub's key was replaced: check with the hub's operator before re-enrolling")
            }
            // A peer that answered the handshake with bytes that are not TLS; not a connection cut
            // during the handshake, which BoringSSL reports as "EOF during handshake".
            if !presented.isComplete, presented.hubKey == nil,
               let failure = presented.failure ?? (error as? NIOSSLError), case .handshakeFailed(let reason) = failure,
               !String(describing: reason).contains("EOF") {
                return SyncError(.tlsFailed, "the TLS handshake with \(address) failed (\(failure)); is it an InspectorSync hub of protocol \(ProtocolLimits.protocolVersion)?")
            }
        }
        return nil
    }

    private func run(_ conversation: inout Conversation) async throws -> Session {
        var summary = Summary()
        var pullsInFullNext = false
        let before = try await store.syncState()
        // Handshake, with Cristian's method for the clock offset.
        let sentAt = store.clock()
        let hello = Message.Hello(device: store.device, token: token, time: sentAt, planDigest: store.plan.digest,
                                  compress: compresses ? [StreamCompression.deflate] : [], cursor: before.pullCursor,
                                  compact: before.lastSync == nil)
        let greeting = try await conversation.request(.hello(hello))
        if case .error(let error) = greeting {
            throw SyncError(.refusedByHub, "the hub refused the handshake: \(error.message)", hubCode: error.code)
        }
        guard case .welcome(let welcome) = greeting else {
            throw SyncError(.protocolViolation, "the hub answered hello with '\(greeting.verb)'")
        }
        let receivedAt = store.clock()
        if let chosen = welcome.compress {
            guard compresses, chosen == StreamCompression.deflate else {
                throw SyncError(.protocolViolation, "the hub chose a compression this device did not offer ('\(chosen.excerpt(20))')")
            }
            let raw = conversation.channel
            try await raw.eventLoop.submit { try StreamCompression.enable(on: raw, effort: .smallest) }.get()
        }
        // Saturating: a hub's `time` is a peer's value like any other (PROTOCOL.md 9.5).
        let halfTrip = HybridLogicalClock.offset(from: sentAt, to: receivedAt) / 2
        let offset = HybridLogicalClock.offset(from: receivedAt, to: HybridLogicalClock.physicalMillis(now: welcome.time, offset: halfTrip))
        summary.clockOffset = offset
        let isFirstHandshake = !before.hasMetHub
        if let plan = welcome.plan { try store.replacePlan(plan) }
        try store.upsertUnits(welcome.units)
        try await store.recordWelcome(scope: welcome.scope, clockOffset: offset, measuredAt: receivedAt, confirmed: welcome.confirmed)
        if !welcome.keys.isEmpty { try await store.recordAuthorKeys(welcome.keys) }

        guard welcome.confirmed >= 0 else {
            throw SyncError(.protocolViolation, "the hub's welcome confirms a negative sequence number (\(welcome.confirmed))")
        }
        // A replica re-created under an id the hub already knows would reuse sequence numbers: refuse.
        let ownLast = try await store.lastSequence(of: store.device)
        if welcome.confirmed > ownLast {
            throw SyncError(.replicaBehindHub, "the hub already holds \(welcome.confirmed) operations of device '\(store.device)' but this replica has only \(ownLast); this replica was re-created or restored from an old copy — enroll it under a new device id")
        }

        // Time: a device that worked offline with a wrong clock corrects what never left it (9.7),
        // and records again any unsent edit still stamped beyond the tolerance (10.3).
        if isFirstHandshake && abs(offset) > Self.clockCorrectionThreshold {
            summary.corrected = try store.correctUnsentTimestamps(by: offset, confirmed: welcome.confirmed)
        }
        summary.recordedAgain += try store.recordAgainOperationsAhead(confirmed: welcome.confirmed)

        // Held-back pulled ops: the new plan or units may let them in now (11.5).
        summary.released = try await retryHeldBack()

        // Push: this device's operations after what the hub confirmed, minus those set aside.
        var confirmed = welcome.confirmed
        var refused = try await store.setAsideOperations()
        let total = max(0, Int(try await store.lastSequence(of: store.device) - confirmed) - refused.filter { $0.sequence > confirmed }.count)
        var done = 0
        if total > 0 { progress?(.pushing(done: 0, total: total)) }
        while true {
            let refusedSequences = Set(refused.map(\.sequence))
            let candidates = try await store.ownOperations(afterSequence: confirmed, limit: batchSize + refusedSequences.count)
                .filter { !refusedSequences.contains($0.sequence) }.prefix(batchSize)
            let pending = Self.boundedByBytes(candidates)
            let withdrawn = refusedSequences.filter { $0 > confirmed }.sorted()
            if pending.isEmpty && withdrawn.isEmpty { break }
            // The signed head over the run from the confirmed number to the batch's last op, or its
            // last withdrawn number when that is later: the hub's confirmed number may pass both,
            // and the next head then continues this one (19.3).
            var head: ChainSegment?
            let through = max(pending.last?.sequence ?? 0, withdrawn.last ?? 0)
            if through > confirmed, let signingKey {
                head = try await OwnChain.segment(of: store, from: confirmed + 1, through: through,
                                                  carried: Set(pending.map(\.sequence)), signingKey: signingKey)
            }
            let answer = try await conversation.request(.push(Message.Push(ops: Array(pending), withdrawn: withdrawn, head: head)))
            switch answer {
            case .pushed(let pushed):
                guard pushed.confirmed > confirmed else {
                    throw SyncError(.protocolViolation, "the hub acknowledged a push without confirming it")
                }
                confirmed = pushed.confirmed
                try await store.recordConfirmed(confirmed)
                if let head { try await store.recordChainAnchor(OwnChain.anchor(after: head)) }
                summary.pushed += pushed.applied
                done += pending.count
                progress?(.pushing(done: done, total: max(total, done)))
            case .error(let error) where error.sequence != nil:
                let sequence = error.sequence!
                guard pending.contains(where: { $0.sequence == sequence }) else {
                    // 10.3: a refusal must name an op of the batch; anything else is not the device's to set aside.
                    throw SyncError(.protocolViolation, "the hub refused operation #\(sequence), which this push did not carry (\(error.code))")
                }
                if error.code == .clockAhead {
                    // The edit is kept: recorded again with the corrected clock, the old op set aside.
                    summary.recordedAgain += try store.recordAgainOperationsAhead(also: [sequence], confirmed: confirmed)
                } else {
                    try store.setAside(RefusedOp(sequence: sequence, code: error.code.rawValue, message: error.message))
                }
                let now = try await store.setAsideOperations()
                summary.refused += now.filter { op in !refused.contains(where: { $0.sequence == op.sequence }) }
                refused = now
            case .error(let error):
                throw SyncError(.refusedByHub, "the hub refused the push: \(error.message)", hubCode: error.code)
            default:
                throw SyncError(.protocolViolation, "the hub answered a push with '\(answer.verb)'")
            }
        }
        summary.confirmed = confirmed

        // Pull: the others' operations after the saved cursor; each batch, what of it is held back,
        // and its cursor in one transaction.
        let saved = try await store.syncState()
        var cursor = saved.pullCursor
        var received = 0
        let toPull = welcome.toPull.map { Int(clamping: max(0, $0)) }
        progress?(.pulling(received: 0, total: toPull))
        // The hub hears of held-back ops when the list changed since it was last told (nothing when none).
        var reported = saved.heldBackReported
        var reportedEntries: [Message.HeldBackReport.Entry]?
        func pendingReport() async throws -> Message.HeldBackReport? {
            let report = try await heldBackReport()
            return report.count == reported && (reportedEntries == nil || reportedEntries == report.entries) ? nil : report
        }
        // The next pull goes out as soon as a batch is read, before the batch is stored (PROTOCOL.md
        // 2.5 allows it: the answer has been read), so the hub reads and sends the next batch while
        // this one is stored. The cursor it carries is the batch's, not yet saved: a cut before the
        // batch's transaction leaves the saved cursor where it was, and the next sync pulls the batch
        // again. A pull is a read at the hub, so a batch asked for and never stored costs nothing.
        var sentReport = try await pendingReport()
        var answer = try await conversation.request(.pull(Message.Pull(cursor: cursor, limit: batchSize, heldBack: sentReport)))
        while true {
            if let report = sentReport {
                reported = report.count
                reportedEntries = report.entries
                try await store.recordHeldBackReported(report.count)
            }
            guard case .ops(let batch) = answer else {
                if case .error(let error) = answer {
                    throw SyncError(.refusedByHub, "the hub refused the pull: \(error.message)", hubCode: error.code)
                }
                throw SyncError(.protocolViolation, "the hub answered a pull with '\(answer.verb)'")
            }
            if batch.more {
                // What this batch holds back is reported with the pull after this one, or at the end.
                sentReport = try await pendingReport()
                try await conversation.send(.pull(Message.Pull(cursor: batch.cursor, limit: batchSize, heldBack: sentReport)))
            }
            let unreadable = batch.unreadable.map {
                ReplicaStore.HeldBackOp(device: $0.device, sequence: $0.sequence, json: $0.json,
                                        code: $0.error.code.rawValue, message: $0.error.message)
            }
            let result = try await store.mergePulled(batch.ops.map { ReplicaStore.PulledOp(op: $0, json: $0.wireJSON()) },
                                                     unreadable: unreadable, cursor: batch.cursor)
            summary.pulled += result.merge.applied
            summary.newConflicts += result.merge.newConflicts
            summary.heldBack += result.heldBack
            cursor = batch.cursor
            received += batch.ops.count + batch.unreadable.count
            if !batch.ops.isEmpty || !batch.unreadable.isEmpty {
                progress?(.pulling(received: received, total: toPull.map { max($0, received) }))
            }
            if !batch.more { break }
            answer = try await conversation.receive()
        }
        if let report = try await pendingReport() {
            // What this sync held back reaches the office now, not at the next sync.
            if case .ops = try await conversation.request(.pull(Message.Pull(cursor: cursor, limit: 1, heldBack: report))) {
                try await store.recordHeldBackReported(report.count)
            }
        }
        if hello.compact, try await !store.heldBackOperations().isEmpty {
            // PROTOCOL.md 11.6: a held-back op may supersede ops this compact session left out. Pull
            // again from 0, in full (this sync's end makes the next session a full one).
            try await store.restartPull()
            pullsInFullNext = true
        }
        // Files travel after the ops: the checklist syncs first on a weak link (PROTOCOL.md 20).
        let upload = try await upload(&conversation)
        summary.filesSent = upload.files
        summary.fileBytesSent = upload.bytes
        let download = try await download(&conversation)
        summary.filesFetched = download.files
        summary.fileBytesFetched = download.bytes
        _ = try? await conversation.request(.bye)
        try await store.recordSyncEnded(at: store.clock())
        return Session(summary: summary, pullsInFullNext: pullsInFullNext)
    }
}

extension SyncClient {
    /// The most ops of one push and one pull unless told otherwise: the most the protocol allows
    /// (PROTOCOL.md 11.2). Each batch costs a round trip, which is what a 2G link is slowest at.
    public static let defaultBatchSize = ProtocolLimits.v1.maximumBatchCount

    /// The most bytes of operations a push carries, well under the 1 MiB line limit.
    public static let batchByteBudget = 512 * 1024

    /// The longest prefix of `ops` whose encoded size stays within ``batchByteBudget`` (at least one op).
    ///
    /// The bound is conservative: an op's JSON is at most twice its value's bytes (escaping) plus its ids.
    static func boundedByBytes<C: Collection<Op>>(_ ops: C) -> [Op] {
        var total = 0
        var result: [Op] = []
        for op in ops {
            let size = op.estimatedWireBytes
            if !result.isEmpty && total + size > batchByteBudget { break }
            total += size
            result.append(op)
        }
        return result
    }
}

/// An operation the hub refused, set aside on the device so the rest keeps flowing.
public typealias RefusedOp = ReplicaStore.SetAsideOp

extension SyncClient {
    /// Tries the held-back pulled operations again; returns how many could be stored.
    func retryHeldBack() async throws -> Int {
        var decoded: [Int64: Op] = [:]
        for held in try await store.heldBackOperations() {
            if let op = try? Op(wireJSON: held.json) { decoded[held.id] = op }
        }
        return try await store.retryHeldBack(decoded)
    }

    /// The report of held-back operations the next pull carries (PROTOCOL.md 11.5).
    func heldBackReport() async throws -> Message.HeldBackReport {
        let held = try await store.heldBackOperations()
        return Message.HeldBackReport(count: held.count, entries: held.prefix(Message.HeldBackReport.maximumEntries).map {
            Message.HeldBackReport.Entry(device: $0.device ?? "", sequence: $0.sequence ?? 0, code: $0.code, message: $0.message)
        })
    }
}

/// One request–answer exchange at a time over the line channel, with a deadline per answer.
struct Conversation {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let channel: any Channel
    let timeout: Duration

    mutating func request(_ message: Message) async throws -> Message {
        try await send(message)
        return try await receive()
    }

    /// Writes a message without waiting for an answer (chunks travel in a window).
    func send(_ message: Message) async throws {
        try await outbound.write(LineChannel.buffer(message))
    }

    /// The next message from the hub, within the deadline.
    mutating func receive() async throws -> Message {
        let channel = self.channel
        let timeout = self.timeout
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            channel.close(promise: nil)
        }
        defer { watchdog.cancel() }
        guard let line = try await inbound.next() else {
            throw SyncError(.connectionFailed, "the hub closed the connection; run sync again to resume")
        }
        guard line.readableBytes <= ProtocolLimits.v1.maximumLineBytes else {
            throw SyncError(.protocolViolation, "the hub sent a line over \(ProtocolLimits.v1.maximumLineBytes) bytes")
        }
        do {
            return try LineChannel.decode(line)
        } catch {
            throw SyncError(.protocolViolation, "the hub sent a line that cannot be read (\(error.code))")
        }
    }
}

import Foundation
import Synchronization
import GRDB
import InspectorCore
import InspectorProtocol
import InspectorStore

extension HubStore {
    /// Applies a device's push, all or nothing, durably (`synchronous=FULL`) before it returns.
    ///
    /// Every operation must carry the device's id, touch a unit in its scope and satisfy the plan.
    /// A refusal names the operation's sequence number so the device can set it aside; nothing of
    /// the batch is written then. `withdrawn` sequence numbers (set aside by the device after an
    /// earlier refusal) count as settled, so the confirmed number moves past them.
    ///
    /// - Returns: the highest contiguous sequence number now held, and what was applied.
    /// - Throws: ``InspectorProtocol/ProtocolError`` with a stable code.
    ///   - clockOffset: the device's clock minus the hub's, measured at this session's handshake; kept
    ///     with the batch so the conflict ledger can tell which values were written with a skewed clock.
    public func push(_ push: Message.Push, from device: Device, scope: Set<String>, clockOffset: Int64 = 0) async throws(ProtocolError) -> Message.Pushed {
        let now = replica.clock()
        // The chain is checked while each op passes its own checks and the batch is merged, on
        // another core when there is one; its verdict is taken in the transaction, before the
        // commit, so a refused op keeps its code and `seq` and a refused chain stores nothing.
        let chainCheck = ChainCheck(push, from: device)
        let retracted = Set(push.ops.compactMap(\.referencedFinding))
        let held: [String: FindingLocation]
        do { held = try await replica.findingLocations(retracted) } catch {
            throw ProtocolError(answering: error)
        }
        var added: [String: FindingLocation] = [:]
        for op in push.ops {
            guard op.device == device.id else {
                throw ProtocolError(.foreignDevice, "operation \(op.sequence) carries another device's id; a device pushes only its own operations", sequence: op.sequence)
            }
            // A retraction's unit must be its finding's (checked below), so `u` is the unit touched.
            guard scope.contains(op.unit) else {
                throw ProtocolError(.outOfScope, "operation \(op.sequence) touches unit '\(op.unit)', which is not assigned to this device", sequence: op.sequence)
            }
            do {
                try replica.validate([op])
            } catch {
                throw ProtocolError(answering: error, sequence: op.sequence)
            }
            do throws(CoreError) {
                try op.checkNotAhead(of: now)
                if let (id, location) = op.addedFinding { added[id] = location }
                if let id = op.referencedFinding {
                    let target = added[id] ?? held[id]
                    if target != nil || !op.referencesOwnFinding { try op.checkReference(of: target) }
                }
            } catch {
                throw ProtocolError(answering: error, sequence: op.sequence)
            }
        }
        for sequence in push.withdrawn where sequence < 1 {
            throw ProtocolError(.badMessage, "withdrawn sequence numbers start at 1")
        }
        let deviceID = device.id
        let withdrawn = push.withdrawn
        do {
            let (result, confirmed) = try await mergeAndConfirm(push.ops, device: deviceID, withdrawn: withdrawn, clockOffset: clockOffset,
                                                                 chain: chainCheck, hubKey: identity.fingerprint)
            return Message.Pushed(confirmed: confirmed, applied: result.applied, duplicates: result.duplicates)
        } catch let error as ProtocolError {
            throw error
        } catch let error as ReplicaStore.RefusedOperation {
            throw ProtocolError(answering: error.error, sequence: error.sequence)
        } catch let error as StoreError where error.code == .conflictingOp {
            throw ProtocolError(answering: error, sequence: error.sequence)
        } catch {
            // Whatever else stopped the transaction (a full disk, an I/O error), nothing was written.
            throw ProtocolError(.storageFailed, "the hub could not store the batch (\((error as? any InspectorError)?.code ?? .storageFailed)); nothing was acknowledged")
        }
    }

    /// The push's signed head, checked against its ops (PROTOCOL.md 19.3): required from a device
    /// with an enrolled key whenever the push carries ops, and signed by that key. A device without a
    /// key (a lab hub's plain TCP) may send one; its chain is checked but not recorded as verified.
    ///
    /// - Returns: the head to record, or nil.
    static func checkHead(of push: Message.Push, from device: Device) throws(ProtocolError) -> ChainSegment? {
        guard let head = push.head else {
            guard device.key == nil || push.ops.isEmpty else {
                throw ProtocolError(.badSignature, "a push of ops must carry the device's signed chain head ('head', PROTOCOL.md 19.3)")
            }
            return nil
        }
        guard head.device == device.id else {
            throw ProtocolError(.badSignature, "the push's signed head is of device '\(head.device.excerpt(70))', not of this session's '\(device.id)'")
        }
        try head.verify(carrying: push.ops)
        guard let key = device.key else { return nil }
        guard head.fingerprint == key else {
            throw ProtocolError(.badSignature, "the push's chain head is signed by the key \(head.fingerprint), not by the device's enrolled key \(key)")
        }
        return head
    }

    /// A push's chain check (``checkHead(of:from:)``), running from its creation on a Dispatch
    /// worker; ``verdict()`` waits for it. The merge's transaction takes the verdict, so the store's
    /// writer thread waits for that worker: a thread of Dispatch's global pool, never one of Swift's
    /// cooperative pool, whose threads may themselves be waiting for the writer.
    final class ChainCheck: Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let result = Mutex<Result<ChainSegment?, ProtocolError>?>(nil)

        init(_ push: Message.Push, from device: Device) {
            DispatchQueue.global(qos: .userInitiated).async { [self] in
                let outcome: Result<ChainSegment?, ProtocolError>
                do throws(ProtocolError) { outcome = .success(try HubStore.checkHead(of: push, from: device)) } catch { outcome = .failure(error) }
                result.withLock { $0 = outcome }
                done.signal()
            }
        }

        /// The checked head (nil: none to record), or the refusal.
        func verdict() throws(ProtocolError) -> ChainSegment? {
            done.wait()
            done.signal()
            return try result.withLock { $0! }.get()
        }
    }

    private func mergeAndConfirm(_ ops: [Op], device: String, withdrawn: [Int64], clockOffset: Int64,
                                 chain: ChainCheck, hubKey: KeyFingerprint) async throws -> (ReplicaStore.MergeResult, Int64) {
        let now = replica.clock()
        return try await replica.mergeValidated(ops) { db, result in
            if let head = try chain.verdict() { try Self.acceptSegments(db, [head], carrying: ops, hubKey: hubKey, now: now) }
            if result.applied > 0 {
                let last = try ReplicaStore.logEnd(db)
                try db.execute(sql: "INSERT INTO push_offsets (device, first_position, last_position, clock_offset) VALUES (?, ?, ?, ?)",
                               arguments: [device, last - Int64(result.applied) + 1, last, clockOffset])
            }
            for sequence in withdrawn {
                try db.execute(sql: "INSERT OR IGNORE INTO withdrawn (device, seq) VALUES (?, ?)", arguments: [device, sequence])
            }
            return try Self.advanceConfirmed(db, device: device)
        }
    }

    /// Moves the device's confirmed number past every sequence number now held or withdrawn.
    static func advanceConfirmed(_ db: Database, device: String) throws -> Int64 {
        var confirmed = try Int64.fetchOne(db, sql: "SELECT confirmed FROM devices WHERE id = ?", arguments: [device]) ?? 0
        // Two ordered reads and a walk, rather than a lookup per sequence number (a push of 2000 ops
        // made 4000 of them).
        let withdrawn = Set(try Int64.fetchAll(db.cachedStatement(sql: "SELECT seq FROM withdrawn WHERE device = ? AND seq > ?"),
                                               arguments: [device, confirmed]))
        let held = try ReplicaStore.sequences(db, of: device, after: confirmed)
        var index = held.startIndex
        while confirmed < Int64.max {
            let wanted = confirmed + 1
            while index < held.endIndex && held[index] < wanted { index += 1 }
            guard (index < held.endIndex && held[index] == wanted) || withdrawn.contains(wanted) else { break }
            confirmed = wanted
        }
        try db.execute(sql: "UPDATE devices SET confirmed = ? WHERE id = ?", arguments: [confirmed, device])
        return confirmed
    }

    /// The next batch of operations for a device: after `cursor`, of units in its scope, not its own.
    ///
    /// The returned cursor is the last log position examined, so a later pull never scans the same
    /// history again.
    public func pull(after cursor: Int64, limit: Int, for device: String, scope: Set<String>, compact: Bool = false) async throws -> Message.OpsBatch {
        let batch = try await replica.logBatch(after: cursor, limit: limit, units: Array(scope), excluding: device, compact: compact,
                                               byteBudget: Self.pullByteBudget, size: { $0.estimatedWireBytes })
        return Message.OpsBatch(ops: batch.ops, cursor: batch.cursor, more: batch.more)
    }

    /// How many operations a pull from `cursor` would deliver to the device now.
    public func pullCount(after cursor: Int64, for device: String, scope: Set<String>, compact: Bool = false) async throws -> Int {
        try await replica.logCount(after: cursor, units: Array(scope), excluding: device, compact: compact)
    }

    /// The most bytes of operations one `ops` line carries, well under the 1 MiB line limit.
    public static let pullByteBudget = 512 * 1024

    /// The confirmed number of a device.
    public func confirmed(device: String) async throws -> Int64 {
        try await replica.read { db in
            try Int64.fetchOne(db, sql: "SELECT confirmed FROM devices WHERE id = ?", arguments: [device]) ?? 0
        }
    }
}


import Foundation
import GRDB
import InspectorCore

extension ReplicaStore {
    /// A pulled operation this device could not store: kept outside the state, with why, and tried
    /// again at every sync (PROTOCOL.md 11.5), so one op never wedges the device.
    public struct HeldBackOp: Hashable, Sendable {
        /// Its row in the held-back list (0 before it is stored).
        public var id: Int64
        /// Its author and sequence number, when they could be read.
        public var device: String?
        public var sequence: Int64?
        /// The op's JSON, as it came.
        public var json: String
        /// The refusal's stable code and message.
        public var code: String
        public var message: String

        public init(id: Int64 = 0, device: String?, sequence: Int64?, json: String, code: String, message: String) {
            self.id = id
            self.device = device
            self.sequence = sequence
            self.json = json
            self.code = code
            self.message = message
        }
    }

    /// What merging a pulled batch did.
    public struct PulledResult: Hashable, Sendable {
        public var merge = MergeResult()
        /// The operations of the batch that were held back.
        public var heldBack: [HeldBackOp] = []
    }

    /// A pulled operation and its JSON (kept if the operation is held back).
    public struct PulledOp: Sendable {
        public var op: Op
        private let makeJSON: @Sendable () -> String
        /// The JSON, made only when the operation is held back (most never are).
        public var json: String { makeJSON() }
        public init(op: Op, json: @autoclosure @escaping @Sendable () -> String) {
            self.op = op
            self.makeJSON = json
        }
    }

    /// Merges a pulled batch: every operation this replica can store is stored, every other one is
    /// held back with its reason, and the cursor is saved, all in one transaction.
    ///
    /// - Parameters:
    ///   - ops: the batch's operations, in the hub's log order.
    ///   - unreadable: elements of the batch that did not even read as operations.
    ///   - cursor: the hub log position the batch was pulled through, saved in the same transaction.
    package func mergePulled(_ ops: [PulledOp], unreadable: [HeldBackOp] = [], cursor: Int64?) async throws -> PulledResult {
        let meta: [MetaKey: String] = cursor.map { [.pullCursor: String($0)] } ?? [:]
        let now = clock()
        let (index, unitIDs) = context.state.withLock { ($0.index, $0.unitIDs) }
        let device = self.device
        let countsConflicts = self.countsConflicts
        let role = self.role
        do {
            return try await writer.write { db in
                var result = PulledResult()
                var stored: [Op] = []
                var batch: [OpIdentity: Op] = [:]
                batch.reserveCapacity(ops.count)
                let physical = try Self.receiverClock(db, now: now)
                var added: [String: FindingLocation] = [:]
                let writers = try makeWriters(db)
                for pulled in ops {
                    do {
                        // An op that conflicts with a held one (same identity, other content) is held
                        // back before it can stand for a finding a later retraction names.
                        let identity = OpIdentity(device: pulled.op.device, sequence: pulled.op.sequence)
                        let held = try batch[identity] ?? writers.held(device: pulled.op.device, sequence: pulled.op.sequence)
                        if let held, held != pulled.op {
                            throw StoreError(.conflictingOp, "operation \(pulled.op.device)#\(pulled.op.sequence) differs from the one already held under that number")
                        }
                        try Self.check(pulled.op, index: index, unitIDs: unitIDs, now: physical, in: db, addedInBatch: &added,
                                       using: writers, role: role)
                        stored.append(pulled.op)
                        batch[identity] = pulled.op
                    } catch {
                        let (code, message) = Self.describe(error)
                        result.heldBack.append(HeldBackOp(device: pulled.op.device, sequence: pulled.op.sequence,
                                                          json: pulled.json, code: code, message: message))
                    }
                }
                let merged = stored
                result.merge = try Self.merge(merged, into: db, using: writers, countingConflicts: countsConflicts, role: role, receiver: device)
                try Self.advanceClock(db, device: device, past: merged, physical: physical)
                for held in result.heldBack + unreadable { try Self.insertHeldBack(db, held) }
                result.heldBack += unreadable
                for (key, value) in meta { try Self.setMeta(db, key, value) }
                return result
            }
        } catch let error as DatabaseError {
            throw StoreError(.storageFailed, "the database refused the change (\(error.resultCode)): \(error.message ?? "no detail"); nothing was written")
        }
    }

    /// The operations held back, oldest first.
    public func heldBackOperations() throws -> [HeldBackOp] {
        try Self.wrap { try writer.read { db in try Self.heldBackList(db) } }
    }

    /// The pulled operations held back, like ``heldBackOperations()``, without blocking the calling thread.
    public func heldBackOperations() async throws -> [HeldBackOp] {
        try await read { db in try Self.heldBackList(db) }
    }

    static func heldBackList(_ db: Database) throws -> [HeldBackOp] {
        try Row.fetchAll(db, sql: "SELECT id, device, seq, json, code, message FROM held_back ORDER BY id").map {
            HeldBackOp(id: $0[0], device: $0[1], sequence: $0[2], json: $0[3], code: $0[4], message: $0[5])
        }
    }

    /// Tries the held-back operations again (after a new plan or new units), in the order they came.
    ///
    /// - Parameter decoded: for each held-back row id whose JSON reads as an operation now, that operation.
    /// - Returns: how many were applied; those still refused stay held back with their new reason.
    @discardableResult
    public func retryHeldBack(_ decoded: [Int64: Op]) async throws -> Int {
        guard !decoded.isEmpty else { return 0 }
        let now = clock()
        let (index, unitIDs) = context.state.withLock { ($0.index, $0.unitIDs) }
        let device = self.device
        let countsConflicts = self.countsConflicts
        let role = self.role
        return try await write { db in
            let physical = try Self.receiverClock(db, now: now)
            let writers = try makeWriters(db)
            var added: [String: FindingLocation] = [:]
            var applied: [Op] = []
            for id in decoded.keys.sorted() {
                do {
                    guard let op = decoded[id] else { continue }
                    try Self.check(op, index: index, unitIDs: unitIDs, now: physical, in: db, addedInBatch: &added,
                                   using: writers, role: role)
                    _ = try Self.merge([op], into: db, using: writers, countingConflicts: countsConflicts, role: role, receiver: device)
                    applied.append(op)
                    try db.execute(sql: "DELETE FROM held_back WHERE id = ?", arguments: [id])
                } catch let error as DatabaseError {
                    throw error
                } catch {
                    let (code, message) = Self.describe(error)
                    try db.execute(sql: "UPDATE held_back SET code = ?, message = ? WHERE id = ?", arguments: [code, message, id])
                }
            }
            try Self.advanceClock(db, device: device, past: applied, physical: physical)
            return applied.count
        }
    }

    /// The receiver's clock: the wall clock plus the offset to the hub.
    static func receiverClock(_ db: Database, now: Int64) throws -> Int64 {
        let offset = Int64(try meta(db, .clockOffset) ?? "0") ?? 0
        return HybridLogicalClock.physicalMillis(now: now, offset: offset)
    }

    /// Every check a received operation passes before it is stored: the plan, the time, the finding it retracts.
    /// An op's author and sequence number, as a dictionary key.
    struct OpIdentity: Hashable {
        var device: String
        var sequence: Int64
    }

    static func check(_ op: Op, index: PlanIndex, unitIDs: Set<String>, now: Int64, in db: Database,
                      addedInBatch added: inout [String: FindingLocation], using writers: Writers, role: Role) throws {
        try op.validate(against: index, unitIDs: unitIDs)
        try op.checkNotAhead(of: now)
        try checkReferences(op, in: db, addedInBatch: &added, using: writers, role: role)
    }

    static func describe(_ error: any Error) -> (code: String, message: String) {
        switch error {
        case let error as CoreError: (error.code.rawValue, error.message)
        case let error as RefusedOperation: (error.error.code.rawValue, error.error.message)
        case let error as StoreError: (error.code.rawValue, error.message)
        default: ("internal", "\(type(of: error))")
        }
    }

    static func insertHeldBack(_ db: Database, _ held: HeldBackOp) throws {
        // One row per op: a batch pulled again after a cut holds back the same op once.
        if let device = held.device, let sequence = held.sequence {
            try db.execute(sql: "DELETE FROM held_back WHERE device = ? AND seq = ?", arguments: [device, sequence])
        }
        try db.execute(sql: "INSERT INTO held_back (device, seq, json, code, message) VALUES (?, ?, ?, ?, ?)",
                       arguments: [held.device, held.sequence, held.json, held.code, held.message])
    }

    /// Notes that this device's operations up to `sequence` were written into a bundle: they have
    /// left it, so their timestamps are never corrected.
    public func noteExported(throughSequence sequence: Int64) throws {
        try Self.wrap {
            try writer.write { db in
                let previous = Int64(try Self.meta(db, .bundleExportedThrough) ?? "0") ?? 0
                if sequence > previous { try Self.setMeta(db, .bundleExportedThrough, String(sequence)) }
            }
        }
    }
}

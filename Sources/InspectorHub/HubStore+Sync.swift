import Foundation
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
        let retracted = Set(push.ops.compactMap(\.retractedFinding))
        let held: [String: FindingLocation]
        do { held = try await replica.findingLocations(retracted) } catch {
            throw ProtocolError(.internal, "the hub could not read its store")
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
            } catch let error as CoreError {
                throw ProtocolError(.invalidOp, "operation \(op.sequence) refused: \(error.message)", sequence: op.sequence)
            } catch {
                throw ProtocolError(.invalidOp, "operation \(op.sequence) refused", sequence: op.sequence)
            }
            do throws(CoreError) {
                try op.checkNotAhead(of: now)
                if let (id, location) = op.addedFinding { added[id] = location }
                if let id = op.retractedFinding {
                    let target = added[id] ?? held[id]
                    if target != nil || !op.retractsOwnFinding { try op.checkRetraction(of: target) }
                }
            } catch {
                throw Self.wireError(error, sequence: op.sequence)
            }
        }
        for sequence in push.withdrawn where sequence < 1 {
            throw ProtocolError(.badMessage, "withdrawn sequence numbers start at 1")
        }
        let deviceID = device.id
        let withdrawn = push.withdrawn
        do {
            let (result, confirmed) = try await mergeAndConfirm(push.ops, device: deviceID, withdrawn: withdrawn, clockOffset: clockOffset)
            return Message.Pushed(confirmed: confirmed, applied: result.applied, duplicates: result.duplicates)
        } catch let error as StoreError where error.code == .conflictingOperation {
            throw ProtocolError(.conflictingOp, error.message, sequence: error.sequence)
        } catch let error as ReplicaStore.RefusedOperation {
            throw Self.wireError(error.error, sequence: error.sequence)
        } catch let error as StoreError {
            throw ProtocolError(.storageFailed, "the hub could not store the batch (\(error.code)); nothing was acknowledged")
        } catch {
            throw ProtocolError(.storageFailed, "the hub could not store the batch; nothing was acknowledged")
        }
    }

    /// The wire error for an operation refused by a time or reference rule.
    static func wireError(_ error: CoreError, sequence: Int64) -> ProtocolError {
        switch error.code {
        case .clockAhead: ProtocolError(.clockAhead, error.message, sequence: sequence)
        case .unknownFinding: ProtocolError(.unknownFinding, error.message, sequence: sequence)
        default: ProtocolError(.invalidOp, "operation \(sequence) refused: \(error.message)", sequence: sequence)
        }
    }

    private func mergeAndConfirm(_ ops: [Op], device: String, withdrawn: [Int64], clockOffset: Int64) async throws -> (ReplicaStore.MergeResult, Int64) {
        try await replica.mergeValidated(ops) { db, result in
            if result.applied > 0 {
                let last = try Int64.fetchOne(db, sql: "SELECT MAX(position) FROM ops") ?? 0
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
        let held = try db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM ops WHERE device = ? AND seq = ?) OR EXISTS (SELECT 1 FROM withdrawn WHERE device = ? AND seq = ?)
            """)
        while try Bool.fetchOne(held, arguments: [device, confirmed + 1, device, confirmed + 1]) ?? false {
            confirmed += 1
        }
        try db.execute(sql: "UPDATE devices SET confirmed = ? WHERE id = ?", arguments: [confirmed, device])
        return confirmed
    }

    /// The next batch of operations for a device: after `cursor`, of units in its scope, not its own.
    ///
    /// The returned cursor is the last log position examined, so a later pull never scans the same
    /// history again.
    public func pull(after cursor: Int64, limit: Int, for device: String, scope: Set<String>) async throws -> Message.OpsBatch {
        let units = scope.sorted()
        return try await replica.writer.read { db in
            let placeholders = units.map { _ in "?" }.joined(separator: ",")
            let sql = """
                SELECT position, \(Op.selectColumns) FROM ops
                WHERE position > ? AND device != ? AND unit IN (\(placeholders)) ORDER BY position LIMIT ?
                """
            var arguments: [any DatabaseValueConvertible] = [cursor, device]
            arguments.append(contentsOf: units)
            arguments.append(limit)
            let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments))
            var ops: [Op] = []
            ops.reserveCapacity(rows.count)
            var bytes = 0
            for row in rows {
                let op = Op(row: row, offset: 1)
                bytes += op.estimatedWireBytes
                if !ops.isEmpty && bytes > Self.pullByteBudget {
                    // Stop before the line would grow too long; the cursor is the last op sent.
                    let previous: Int64 = rows[ops.count - 1][0]
                    return Message.OpsBatch(ops: ops, cursor: previous, more: true)
                }
                ops.append(op)
            }
            if rows.count == limit, let last = rows.last {
                return Message.OpsBatch(ops: ops, cursor: last[0], more: true)
            }
            let end = try Int64.fetchOne(db, sql: "SELECT MAX(position) FROM ops") ?? 0
            return Message.OpsBatch(ops: ops, cursor: max(end, cursor), more: false)
        }
    }

    /// The most bytes of operations one `ops` line carries, well under the 1 MiB line limit.
    public static let pullByteBudget = 512 * 1024

    /// The confirmed number of a device.
    public func confirmed(device: String) async throws -> Int64 {
        try await replica.writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT confirmed FROM devices WHERE id = ?", arguments: [device]) ?? 0
        }
    }
}


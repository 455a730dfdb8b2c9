import Foundation
import GRDB
import InspectorCore

extension ReplicaStore {
    /// One of this device's own operations that the hub refused: kept in the log, left out of the
    /// state, never pushed again, and listed to the hub as withdrawn (PROTOCOL.md 10.3).
    public struct SetAsideOp: Codable, Hashable, Sendable {
        public var sequence: Int64
        public var code: String
        public var message: String
        public init(sequence: Int64, code: String, message: String) {
            self.sequence = sequence
            self.code = code
            self.message = message
        }
    }

    /// This device's set-aside operations, oldest first.
    public func setAsideOperations() throws -> [SetAsideOp] {
        try Self.wrap { try writer.read { db in try Self.setAsideList(db) } }
    }

    /// This device's set-aside operations, like ``setAsideOperations()``, without blocking the calling thread.
    public func setAsideOperations() async throws -> [SetAsideOp] {
        try await read { db in try Self.setAsideList(db) }
    }

    /// Sets one of this device's operations aside: it leaves the state (which is rebuilt without
    /// it) and is never pushed again. One transaction.
    public func setAside(_ op: SetAsideOp) throws {
        try Self.wrap {
            try writer.write { db in
                try markSetAside(db, [op])
                try Self.rebuildState(db, using: makeWriters(db))
            }
        }
    }

    private func markSetAside(_ db: Database, _ ops: [SetAsideOp]) throws {
        var list = try Self.setAsideList(db)
        let known = Set(list.map(\.sequence))
        for op in ops where !known.contains(op.sequence) {
            list.append(op)
            try db.execute(sql: "UPDATE ops SET set_aside = 1 WHERE device = (SELECT id FROM names WHERE name = ?) AND seq = ?", arguments: [device, op.sequence])
        }
        try Self.setMeta(db, .refused, String(decoding: try JSONEncoder().encode(list), as: UTF8.self))
    }

    static func setAsideList(_ db: Database) throws -> [SetAsideOp] {
        guard let text = try meta(db, .refused) else { return [] }
        return (try? JSONDecoder().decode([SetAsideOp].self, from: Data(text.utf8))) ?? []
    }

    /// Recomputes field values, findings and retractions from the log, leaving out set-aside operations.
    static func rebuildState(_ db: Database, using writers: Writers) throws {
        try db.execute(sql: "DELETE FROM field_values; DELETE FROM findings; DELETE FROM retractions")
        let rows = try Row.fetchCursor(db, sql: "SELECT \(Op.selectColumns) FROM op_rows WHERE set_aside = 0 ORDER BY position")
        while let row = try rows.next() {
            try apply(Op(row: row), using: writers)
        }
    }

    /// The greatest timestamp held in the log, set-aside operations left out.
    static func newestTimestamp(_ db: Database) throws -> (millis: Int64, counter: Int64) {
        let row = try Row.fetchOne(db, sql: "SELECT ms, counter FROM op_rows WHERE set_aside = 0 ORDER BY hlc DESC LIMIT 1")
        return row.map { ($0[0], $0[1]) } ?? (0, 0)
    }

    /// The lowest sequence number of this device that has never left it: above what the hub
    /// confirmed and above what was written into a bundle.
    static func firstUnsentSequence(_ db: Database, confirmed: Int64) throws -> Int64 {
        let exported = Int64(try meta(db, .bundleExportedThrough) ?? "0") ?? 0
        let last = max(confirmed, exported)
        return last == .max ? .max : last + 1
    }

    /// Corrects the timestamps of this device's operations that have never left it by `offset`
    /// milliseconds (PROTOCOL.md 9.7): done once, at the first handshake, when the device learns
    /// that its clock was off while it worked offline.
    ///
    /// The state is rebuilt and the clock recomputed from the log, in the same transaction.
    ///
    /// - Parameters:
    ///   - offset: hub time minus device time, ms.
    ///   - confirmed: the hub's confirmed number for this device (ops up to it have left).
    /// - Returns: how many operations were corrected; 0 when a corrected time would leave the valid
    ///   range or would not order after this device's operations that have left it.
    @discardableResult
    public func correctUnsentTimestamps(by offset: Int64, confirmed: Int64) throws -> Int {
        try Self.wrap {
            try writer.write { db -> Int in
                let first = try Self.firstUnsentSequence(db, confirmed: confirmed)
                guard let range = try Row.fetchOne(db, sql: """
                    SELECT MIN(ms), MAX(ms), COUNT(*) FROM op_rows WHERE device_id = (SELECT id FROM names WHERE name = ?) AND seq >= ? AND set_aside = 0
                    """, arguments: [device, first]), let least = range[0] as Int64?, let greatest = range[1] as Int64? else { return 0 }
                let (low, lowOverflow) = least.addingReportingOverflow(offset)
                let (high, highOverflow) = greatest.addingReportingOverflow(offset)
                guard !lowOverflow, !highOverflow, HLCTimestamp.validMillis.contains(low), HLCTimestamp.validMillis.contains(high) else { return 0 }
                // Own ops that left keep their times; the corrected ones must still order after them.
                if let left = try Row.fetchOne(db, sql: """
                    SELECT ms, counter FROM op_rows WHERE device_id = (SELECT id FROM names WHERE name = ?) AND seq < ? AND set_aside = 0 ORDER BY seq DESC LIMIT 1
                    """, arguments: [device, first]) {
                    let leftMillis: Int64 = left[0]
                    guard low > leftMillis else { return 0 }
                }
                // The packed clock's milliseconds are its bits above the 16 of the counter; the
                // corrected times were checked to stay within the valid range.
                try db.execute(sql: "UPDATE ops SET hlc = hlc + (? << 16) WHERE device = (SELECT id FROM names WHERE name = ?) AND seq >= ? AND set_aside = 0",
                               arguments: [offset, device, first])
                let count = db.changesCount
                try Self.rebuildState(db, using: makeWriters(db))
                let newest = try Self.newestTimestamp(db)
                try Self.saveClock(db, HybridLogicalClock(device: device, millis: newest.millis, counter: newest.counter))
                return count
            }
        }
    }

    /// Records again, with the corrected clock, this device's operations that have never left it and
    /// are stamped more than the tolerance ahead of it, or those named in `sequences` (refused by
    /// the hub as `clock_ahead`). The old operations are set aside (`clock_ahead`); a re-recorded
    /// finding gets a new id, and re-recorded retractions of it name the new id. One transaction.
    ///
    /// - Parameters:
    ///   - sequences: sequence numbers to record again whatever their time.
    ///   - confirmed: the hub's confirmed number for this device.
    /// - Returns: the new operations, oldest first.
    @discardableResult
    public func recordAgainOperationsAhead(also sequences: Set<Int64> = [], confirmed: Int64) throws -> [Op] {
        let now = clock()
        return try Self.wrap {
            try writer.write { db -> [Op] in
                let offset = Int64(try Self.meta(db, .clockOffset) ?? "0") ?? 0
                let physical = HybridLogicalClock.physicalMillis(now: now, offset: offset)
                let limit = HybridLogicalClock.physicalMillis(now: physical, offset: HybridLogicalClock.futureTolerance)
                let first = try Self.firstUnsentSequence(db, confirmed: confirmed)
                let rows = try Row.fetchAll(db, sql: """
                    SELECT \(Op.selectColumns) FROM op_rows WHERE device_id = (SELECT id FROM names WHERE name = ?) AND set_aside = 0 AND ((seq >= ? AND ms > ?) OR seq IN (\(sequences.map(String.init).joined(separator: ","))))
                    ORDER BY seq
                    """, arguments: [device, first, limit])
                var old = rows.map { Op(row: $0) }
                guard !old.isEmpty else { return [] }
                // Unsent retractions and attachments of a finding recorded again follow it, so they name its new id.
                let moved = Set(old.compactMap { $0.addedFinding?.id })
                let chosen = Set(old.map(\.sequence))
                let followers = try Row.fetchAll(db, sql: """
                    SELECT \(Op.selectColumns) FROM op_rows WHERE device_id = (SELECT id FROM names WHERE name = ?) AND set_aside = 0 AND seq >= ? AND kind_code IN (2, 3)
                    ORDER BY seq
                    """, arguments: [device, first]).map { Op(row: $0) }
                old += followers.filter { !chosen.contains($0.sequence) && moved.contains($0.finding ?? "") }
                old.sort { $0.sequence < $1.sequence }
                let last = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM ops WHERE device = (SELECT id FROM names WHERE name = ?)", arguments: [device]) ?? 0
                guard last <= Int64.max - Int64(old.count) else {
                    throw StoreError(.sequenceExhausted, "this replica's log holds sequence numbers up to \(last) for '\(device)'; it cannot record \(old.count) edit(s) again")
                }
                try markSetAside(db, old.enumerated().map { index, op in
                    SetAsideOp(sequence: op.sequence, code: CoreError.Code.clockAhead.rawValue,
                               message: "stamped \(op.timestamp.isoTime), ahead of the hub's clock; recorded again as #\(last + Int64(index) + 1)")
                })
                // The clock restarts from what the log holds without the ops being replaced.
                let base = try Self.newestTimestamp(db)
                var hlc = HybridLogicalClock(device: device, millis: base.millis, counter: base.counter)
                var recorded: [Op] = []
                var renamed: [String: String] = [:]
                let writers = try makeWriters(db)
                try Self.rebuildState(db, using: writers)
                for (index, op) in old.enumerated() {
                    let sequence = last + Int64(index) + 1
                    let timestamp = hlc.tick(physical: physical)
                    var again = op
                    again.sequence = sequence
                    again.timestamp = timestamp
                    switch op.kind {
                    case .findingAdd:
                        let id = Op.findingID(device: device, sequence: sequence)
                        if let oldID = op.finding { renamed[oldID] = id }
                        again.finding = id
                    case .findingRetract, .attachmentAdd:
                        if let target = op.finding, let id = renamed[target] { again.finding = id }
                    case .set:
                        break
                    }
                    try Self.insert(again, into: db, using: writers)
                    recorded.append(again)
                }
                try Self.saveClock(db, hlc)
                return recorded
            }
        }
    }
}

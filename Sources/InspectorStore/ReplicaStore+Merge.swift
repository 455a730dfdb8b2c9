import GRDB
import InspectorCore

extension ReplicaStore {
    /// What a merge did.
    public struct MergeResult: Hashable, Sendable {
        /// Operations that were new and were written.
        public var applied: Int
        /// Operations the replica already held (no-ops).
        public var duplicates: Int
        /// Fields that more than one device has now set, and had not before this merge.
        public var newConflicts: Int
        public init(applied: Int = 0, duplicates: Int = 0, newConflicts: Int = 0) {
            self.applied = applied
            self.duplicates = duplicates
            self.newConflicts = newConflicts
        }
    }

    /// An operation a receiver refuses, with the identity of the operation and the rule it breaks.
    public struct RefusedOperation: Error, Hashable, Sendable, CustomStringConvertible {
        /// The refused operation's author and sequence number.
        public var device: String
        public var sequence: Int64
        /// Why: `clock_ahead`, `unknown_finding`, `retraction_mismatch`, `own_operation`, or a plan rule's code.
        public var error: CoreError
        public var description: String { error.description }
        public init(device: String, sequence: Int64, error: CoreError) {
            self.device = device
            self.sequence = sequence
            self.error = error
        }
    }

    /// Merges operations from another replica, all or nothing.
    ///
    /// Each operation is validated against the plan and the known units, must not be stamped more
    /// than ``InspectorCore/HybridLogicalClock/futureTolerance`` ahead of this replica's clock (its
    /// wall clock plus its offset to the hub), and a retraction must name a finding held here or
    /// added earlier in the batch, with that finding's unit and item. An operation already held is
    /// skipped; a different operation under a (device, sequence) already held is refused. If any
    /// operation is refused, nothing of the batch is written. The hybrid logical clock advances past
    /// the greatest timestamp received, so a later local edit orders after everything seen.
    ///
    /// - Parameters:
    /// - Parameter operations: the operations, in any order (a retraction after its finding).
    /// - Returns: how many were applied, duplicates, and new conflicts.
    /// - Throws: ``InspectorCore/CoreError`` for a plan rule, ``RefusedOperation`` for a time or
    ///   reference rule, or ``StoreError``, naming the first refused operation.
    @discardableResult
    public func merge(_ operations: [Op]) throws -> MergeResult {
        try merge(operations, pullCursor: nil)
    }

    /// Merges operations like ``merge(_:)`` and, in the same transaction, saves the hub log position
    /// they were pulled through (the sync client's and the tests' way of saving a pulled batch).
    @discardableResult
    package func merge(_ operations: [Op], pullCursor: Int64?) throws -> MergeResult {
        let meta: [MetaKey: String] = pullCursor.map { [.pullCursor: String($0)] } ?? [:]
        try validate(operations)
        let now = clock()
        return try Self.wrap {
            try writer.write { db in try mergeTransaction(db, operations, now: now, checkingTimes: true, meta: meta) }
        }
    }

    /// Merges operations like ``merge(_:)``, without blocking the calling thread: the database
    /// work runs on GRDB's writer queue while the task is suspended.
    @discardableResult
    public func mergeAsync(_ operations: [Op]) async throws -> MergeResult {
        let meta: [MetaKey: String] = [:]
        try validate(operations)
        let now = clock()
        do {
            return try await writer.write { db in try mergeTransaction(db, operations, now: now, checkingTimes: true, meta: meta) }
        } catch let error as DatabaseError {
            throw StoreError(.storageFailed, "the database refused the change (\(error.resultCode)): \(error.message ?? "no detail"); nothing was written")
        }
    }

    /// Merges operations like ``merge(_:)``, without blocking the calling thread, and runs
    /// `also` in the same transaction (the hub records its bookkeeping this way).
    ///
    /// The caller has checked the plan (``validate(_:)``) and the times (the hub against its own
    /// clock); references are checked here, in the transaction.
    ///
    /// - Parameters:
    ///   - operations: operations already checked with ``validate(_:)``.
    ///   - also: more work for the same transaction; if it throws, nothing is written.
    package func mergeValidated<T: Sendable>(_ operations: [Op], also: @escaping @Sendable (Database, MergeResult) throws -> T) async throws -> (MergeResult, T) {
        let now = clock()
        do {
            return try await writer.write { db in
                let result = try mergeTransaction(db, operations, now: now, checkingTimes: false, meta: [:])
                return (result, try also(db, result))
            }
        } catch let error as DatabaseError {
            throw StoreError(.storageFailed, "the database refused the change (\(error.resultCode)): \(error.message ?? "no detail"); nothing was written")
        }
    }

    /// Checks operations against the plan and the known units.
    ///
    /// - Throws: ``InspectorCore/CoreError`` naming the first operation that does not fit.
    public func validate(_ operations: [Op]) throws {
        let (index, unitIDs) = context.state.withLock { ($0.index, $0.unitIDs) }
        for op in operations { try op.validate(against: index, unitIDs: unitIDs) }
    }

    /// Where the findings with these ids belong, for those this replica holds.
    public func findingLocations(_ ids: Set<String>) async throws -> [String: FindingLocation] {
        guard !ids.isEmpty else { return [:] }
        return try await read { db in
            var result: [String: FindingLocation] = [:]
            let statement = try db.cachedStatement(sql: "SELECT unit, item FROM finding_rows WHERE id = ?")
            for id in ids {
                if let row = try Row.fetchOne(statement, arguments: [id]) {
                    result[id] = FindingLocation(unit: row[0], item: row[1])
                }
            }
            return result
        }
    }

    /// The per-op statements for one write transaction, telling GRDB's observers of the changes
    /// when something observes this store.
    func makeWriters(_ db: Database) throws -> Writers {
        try Writers(db, notifying: context.state.withLock { $0.observations > 0 }, committedNames: context.names)
    }

    /// Devices count new conflicts on merge; the hub does not.
    var countsConflicts: Bool { role == .device }

    func mergeTransaction(_ db: Database, _ operations: [Op], now: Int64, checkingTimes: Bool,
                          meta: [MetaKey: String], restoring: Bool = false) throws -> MergeResult {
        let offset = Int64(try Self.meta(db, .clockOffset) ?? "0") ?? 0
        let receiverNow = HybridLogicalClock.physicalMillis(now: now, offset: offset)
        if checkingTimes {
            for op in operations {
                do { try op.checkNotAhead(of: receiverNow) } catch {
                    throw RefusedOperation(device: op.device, sequence: op.sequence, error: error)
                }
            }
        }
        let result = try Self.merge(operations, into: db, using: makeWriters(db), countingConflicts: countsConflicts, role: role,
                                    receiver: device, restoring: restoring)
        try Self.advanceClock(db, device: device, past: operations, physical: receiverNow)
        for (key, value) in meta { try Self.setMeta(db, key, value) }
        return result
    }

    /// Moves the saved clock past the greatest timestamp of `operations`.
    static func advanceClock(_ db: Database, device: String, past operations: [Op], physical: Int64) throws {
        guard let newest = operations.max(by: { $0.timestamp < $1.timestamp }) else { return }
        var hlc = try loadClock(db, device: device)
        hlc.receive(newest.timestamp, physical: physical)
        try saveClock(db, hlc)
    }

    /// Merges already validated operations inside a transaction. Throws on a conflicting identity
    /// or a retraction that does not name a finding held (or added earlier in the batch) with its unit and item.
    ///
    /// An operation under the receiver's own id must be one it already holds (a replica is the only
    /// writer of its own sequence): one it never recorded is refused (`own_operation`), whatever its
    /// sequence number, so that no peer can take the numbers this replica records next. When
    /// `restoring`, such an operation is taken if it continues the replica's own sequence without a gap.
    ///
    /// - Parameters:
    ///   - countingConflicts: whether to count fields that become contested (one more query
    ///     per `set`; devices report it after a pull, the hub does not need it).
    ///   - receiver: this replica's own device id.
    ///   - restoring: whether own operations are being restored from a copy (``restoreOwnOperations(_:)``).
    static func merge(_ operations: [Op], into db: Database, using writers: Writers, countingConflicts: Bool, role: Role,
                      receiver: String, restoring: Bool = false) throws -> MergeResult {
        var result = MergeResult()
        var conflicted = Set<[String]>()
        var added: [String: FindingLocation] = [:]
        var nextOwn: Int64?
        for op in operations {
            if op.device == receiver, try !writers.holds(op) {
                let next = try nextOwn ?? Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM ops WHERE device = (SELECT id FROM names WHERE name = ?)"), arguments: [receiver]).map { $0 &+ 1 } ?? 1
                guard restoring, op.sequence == next, next < .max else {
                    throw RefusedOperation(device: op.device, sequence: op.sequence, error: CoreError(.ownOperation, restoring
                        ? "operation \(op.device.excerpt(64))#\(op.sequence) does not continue this replica's own operations, which go on at \(next): restore them in order, without a gap"
                        : "operation \(op.device.excerpt(64))#\(op.sequence) is under this replica's own id, which never recorded it: only \(op.device.excerpt(64)) writes its own operations"))
                }
                nextOwn = next + 1
            }
            try checkReferences(op, in: db, addedInBatch: &added, using: writers, role: role)
            if countingConflicts && op.kind == .set {
                // The field becomes contested when one other device held it.
                if try writers.isHeldByOneOther(op), try !writers.holds(op),
                   conflicted.insert([op.unit, op.item!, op.field!]).inserted {
                    result.newConflicts += 1
                }
            }
            if try insert(op, into: db, using: writers) {
                result.applied += 1
            } else {
                result.duplicates += 1
            }
        }
        return result
    }

    /// Checks a retraction against the finding it names (held, or added earlier in the batch); notes
    /// the finding a `finding_add` creates.
    ///
    /// The hub refuses a retraction of another device's finding it does not hold: it checks scope on
    /// the finding's unit. A retraction of the author's own finding, and any retraction at a device,
    /// may arrive before its finding (PROTOCOL.md 8.3; the hub has checked what it relays); a
    /// retraction whose unit or item differ from a finding held is always refused. So is a finding
    /// whose place differs from that of the retraction of it already held (the one shown): the
    /// retraction's unit is what pulls and scope checks use, so it must be its finding's.
    static func checkReferences(_ op: Op, in db: Database, addedInBatch added: inout [String: FindingLocation],
                                using writers: Writers, role: Role) throws {
        if let (id, location) = op.addedFinding {
            added[id] = location
            // An attachment of it may have come first (its author's batches out of order): same rule.
            for attachment in try writers.attachments(ofFinding: id) {
                do { try attachment.checkReference(of: location) } catch {
                    throw RefusedOperation(device: op.device, sequence: op.sequence, error: CoreError(.retractionMismatch,
                        "operation \(op.device.excerpt(64))#\(op.sequence) adds finding '\(id.excerpt(80))' on unit '\(op.unit.excerpt(64))' item '\((op.item ?? "none").excerpt(32))', but the attachment of it already held (\(attachment.device.excerpt(64))#\(attachment.sequence)) names unit '\(attachment.unit.excerpt(64))' item '\((attachment.item ?? "none").excerpt(32))'"))
                }
            }
            if let retraction = try writers.retraction(ofFinding: id) {
                do { try retraction.checkReference(of: location) } catch {
                    throw RefusedOperation(device: op.device, sequence: op.sequence, error: CoreError(.retractionMismatch,
                        "operation \(op.device.excerpt(64))#\(op.sequence) adds finding '\(id.excerpt(80))' on unit '\(op.unit.excerpt(64))' item '\((op.item ?? "none").excerpt(32))', but the retraction of it already held (\(retraction.device.excerpt(64))#\(retraction.sequence)) names unit '\(retraction.unit.excerpt(64))' item '\((retraction.item ?? "none").excerpt(32))'"))
                }
            }
        } else if let id = op.referencedFinding {
            var target = added[id]
            if target == nil { target = try writers.location(ofFinding: id) }
            if target == nil && (role == .device || op.referencesOwnFinding) { return }
            do { try op.checkReference(of: target) } catch {
                throw RefusedOperation(device: op.device, sequence: op.sequence, error: error)
            }
        }
    }

    /// The statements that append an operation and apply it, prepared once per transaction.
    ///
    /// The per-op ones bind through SQLite's C API (``BoundStatement``), which GRDB's observers do
    /// not see: when the store is observed, making a `Writers` tells them that the log and the
    /// state change in this transaction (GRDB's `notifyChanges`, which costs a schema lookup per
    /// table, so it is skipped when nothing observes).
    struct Writers {
        let names: Names
        let insert: BoundStatement
        let setValue: BoundStatement
        let addFinding: BoundStatement
        let retract: BoundStatement
        let isHeld: BoundStatement
        let authorRange: BoundStatement
        private let existing: Statement
        private let findingLocation: BoundStatement
        private let hasRetraction: BoundStatement
        /// The op of the retraction shown for a finding (the winner), if one is held.
        private let heldRetraction: Statement
        private let hasAttachment: BoundStatement
        private let heldAttachments: Statement

        init(_ db: Database, notifying: Bool, committedNames: CommittedNames?) throws {
            if notifying {
                for table in ["ops", "field_values", "findings", "retractions"] {
                    try db.notifyChanges(in: Table(table))
                }
            }
            names = try Names(db, committed: committedNames)
            findingLocation = try BoundStatement(db, sql: "SELECT unit, item FROM finding_rows WHERE id = ?")
            hasRetraction = try BoundStatement(db, sql: "SELECT 1 FROM retractions WHERE finding = ?")
            heldRetraction = try db.cachedStatement(sql: Self.heldRetractionSQL)
            // No INDEXED BY: a migration before "v6-attachments" makes writers too (the partial index
            // `ops_attachments` serves this query once it exists).
            hasAttachment = try BoundStatement(db, sql: "SELECT 1 FROM ops WHERE kind = 3 AND finding = ? LIMIT 1")
            heldAttachments = try db.cachedStatement(sql: "SELECT \(Op.selectColumns) FROM op_rows WHERE kind_code = 3 AND finding = ?")
            insert = try BoundStatement(db, sql: """
                INSERT INTO ops (device, seq, hlc, kind, unit, item, field, finding, finding_kind, value)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING
                """)
            // Last writer wins: the greater packed clock, then the greater device id (by name; ?8 is
            // the writer's), as HLCTimestamp orders.
            setValue = try BoundStatement(db, sql: """
                INSERT INTO field_values (unit, item, field, value, device, seq, hlc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                ON CONFLICT (unit, item, field) DO UPDATE SET
                    value = excluded.value, device = excluded.device, seq = excluded.seq, hlc = excluded.hlc
                WHERE excluded.hlc > field_values.hlc
                   OR (excluded.hlc = field_values.hlc AND ?8 > (SELECT name FROM names WHERE id = field_values.device))
                """)
            addFinding = try BoundStatement(db, sql: """
                INSERT INTO findings (id, unit, item, kind, text, device, seq, hlc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            retract = try BoundStatement(db, sql: """
                INSERT INTO retractions (finding, reason, device, seq, hlc) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT (finding) DO UPDATE SET
                    reason = excluded.reason, device = excluded.device, seq = excluded.seq, hlc = excluded.hlc
                WHERE excluded.hlc > retractions.hlc
                   OR (excluded.hlc = retractions.hlc AND ?6 > (SELECT name FROM names WHERE id = retractions.device))
                """)
            isHeld = try BoundStatement(db, sql: "SELECT EXISTS (SELECT 1 FROM ops WHERE device = ? AND seq = ?)")
            // Two index lookups (the least and greatest device that set the field), whatever the
            // number of earlier edits.
            authorRange = try BoundStatement(db, sql: """
                SELECT (SELECT MIN(device) FROM ops INDEXED BY ops_by_field WHERE kind = 0 AND unit = ?1 AND item = ?2 AND field = ?3),
                       (SELECT MAX(device) FROM ops INDEXED BY ops_by_field WHERE kind = 0 AND unit = ?1 AND item = ?2 AND field = ?3)
                """)
            existing = try db.cachedStatement(sql: "SELECT \(Op.selectColumns) FROM op_rows WHERE device_id = ? AND seq = ?")
        }

        private static let heldRetractionSQL = """
            SELECT \(Op.selectColumns.split(separator: ", ").map { "op_rows.\($0)" }.joined(separator: ", "))
            FROM retractions JOIN op_rows ON op_rows.device_id = retractions.device AND op_rows.seq = retractions.seq
            WHERE retractions.finding = ?
            """

        /// The op the log holds under this author and sequence number, if any.
        func held(device: String, sequence: Int64) throws -> Op? {
            guard let id = try names.existingID(of: device) else { return nil }
            // Most ops asked about are new: one index probe decides, and only a held one is read.
            guard try isHeld.fetchFirst({ bind in
                bind(1, id)
                bind(2, sequence)
            }, { $0.int64(0) != 0 }) == true else { return nil }
            return try Row.fetchOne(existing, arguments: [id, sequence]).map { Op(row: $0) }
        }

        /// The op of the retraction shown for finding `id`, if one is held.
        func retraction(ofFinding id: String) throws -> Op? {
            guard try hasRetraction.fetchFirst({ bind in bind(1, id) }, { _ in true }) == true else { return nil }
            return try Row.fetchOne(heldRetraction, arguments: [id]).map { Op(row: $0) }
        }

        /// The `attachment_add` ops held that name finding `id` (usually none: one index probe).
        func attachments(ofFinding id: String) throws -> [Op] {
            guard try hasAttachment.fetchFirst({ bind in bind(1, id) }, { _ in true }) == true else { return [] }
            return try Row.fetchAll(heldAttachments, arguments: [id]).map { Op(row: $0) }
        }

        /// Where finding `id` belongs, if it is held.
        func location(ofFinding id: String) throws -> FindingLocation? {
            try findingLocation.fetchFirst({ bind in bind(1, id) }, { row in
                FindingLocation(unit: row.string(0) ?? "", item: row.string(1))
            })
        }

        /// Whether the log holds an op under this author and sequence number.
        func holds(_ op: Op) throws -> Bool {
            guard let device = try names.existingID(of: op.device) else { return false }
            return try isHeld.fetchFirst({ bind in
                bind(1, device)
                bind(2, op.sequence)
            }, { $0.int64(0) != 0 }) ?? false
        }

        /// Whether one device, other than `op`'s author, is the only one to have set `op`'s field.
        func isHeldByOneOther(_ op: Op) throws -> Bool {
            guard let unit = try names.existingID(of: op.unit), let item = try op.item.flatMap(names.existingID(of:)),
                  let field = try op.field.flatMap(names.existingID(of:)) else { return false }
            let author = try names.existingID(of: op.device)
            return try authorRange.fetchFirst({ bind in
                bind(1, unit)
                bind(2, item)
                bind(3, field)
            }, { row in
                guard !row.isNull(0), !row.isNull(1) else { return false }
                let least = row.int64(0), greatest = row.int64(1)
                return least == greatest && least != author
            }) ?? false
        }
    }

    /// Appends one operation to the log and applies it to the state.
    ///
    /// - Returns: false when the log already holds this very operation (nothing changes).
    /// - Throws: ``StoreError`` `conflicting_op` when it holds a different one under that number,
    ///   `invalid_op` for a timestamp outside the valid range (which no checked op has).
    @discardableResult
    static func insert(_ op: Op, into db: Database, using writers: Writers) throws -> Bool {
        guard op.timestamp.isValid else {
            throw StoreError(.invalidOp, "operation \(op.device.excerpt(64))#\(op.sequence) has a timestamp outside the valid range; nothing was written", sequence: op.sequence)
        }
        let names = writers.names
        let device = try names.id(of: op.device), unit = try names.id(of: op.unit)
        let item = try names.id(of: op.item), field = try names.id(of: op.field)
        let changed = try writers.insert.execute { bind in
            bind(1, device)
            bind(2, op.sequence)
            bind(3, op.timestamp.packed)
            bind(4, op.kind.code)
            bind(5, unit)
            if let item { bind(6, item) } else { bind(6, nil as String?) }
            if let field { bind(7, field) } else { bind(7, nil as String?) }
            bind(8, op.finding)
            bind(9, op.findingKind?.rawValue)
            bind(10, op.value)
        }
        guard changed == 1 else {
            guard let existing = try writers.held(device: op.device, sequence: op.sequence), existing == op else {
                throw StoreError(.conflictingOp, "operation \(op.device)#\(op.sequence) differs from the one already held under that number", sequence: op.sequence)
            }
            return false
        }
        try apply(op, using: writers)
        return true
    }

    /// Applies one operation held in the log to the state (field values, findings, retractions).
    static func apply(_ op: Op, using writers: Writers) throws {
        let names = writers.names
        let clock = op.timestamp.packed
        let device = try names.id(of: op.device)
        switch op.kind {
        case .set:
            let unit = try names.id(of: op.unit), item = try names.id(of: op.item ?? ""), field = try names.id(of: op.field ?? "")
            try writers.setValue.execute { bind in
                bind(1, unit)
                bind(2, item)
                bind(3, field)
                bind(4, op.value)
                bind(5, device)
                bind(6, op.sequence)
                bind(7, clock)
                bind(8, op.device)
            }
        case .findingAdd:
            let unit = try names.id(of: op.unit), item = try names.id(of: op.item)
            try writers.addFinding.execute { bind in
                bind(1, op.finding)
                bind(2, unit)
                if let item { bind(3, item) } else { bind(3, nil as String?) }
                bind(4, op.findingKind?.rawValue)
                bind(5, op.value)
                bind(6, device)
                bind(7, op.sequence)
                bind(8, clock)
            }
        case .findingRetract:
            try writers.retract.execute { bind in
                bind(1, op.finding)
                bind(2, op.value)
                bind(3, device)
                bind(4, op.sequence)
                bind(5, clock)
                bind(6, op.device)
            }
        case .attachmentAdd:
            // Append-only: the op is its own record (read through `ops_attachments`).
            break
        }
    }
}

extension Op.Kind {
    /// The kind as the log stores it: 0 `set`, 1 `finding_add`, 2 `finding_retract`,
    /// 3 `attachment_add` (the view `op_rows` gives the name back).
    var code: Int64 {
        switch self {
        case .set: 0
        case .findingAdd: 1
        case .findingRetract: 2
        case .attachmentAdd: 3
        }
    }
}

import Foundation
import GRDB
import InspectorCore

extension ReplicaStore {
    /// Sets one field of one checklist item of one unit, as this device.
    ///
    /// The value is validated against the field's type and limits and stored in canonical form; the
    /// operation is stamped with the device's hybrid logical clock and the next sequence number, and
    /// appended to the log in the same transaction that updates the state.
    ///
    /// - Parameters:
    ///   - unit: a unit id the replica knows (and, once the hub has said, one in the device's scope).
    ///   - item: a checklist item id of the plan, e.g. `II.4`.
    ///   - field: a field id of that item, e.g. `status`.
    ///   - value: the value as typed.
    /// - Returns: the recorded operation.
    /// - Throws: ``InspectorCore/CoreError`` for an unknown id or an invalid value, ``StoreError`` for
    ///   an out-of-scope unit or a database failure. Nothing is written when it throws.
    @discardableResult
    public func set(unit: String, item: String, field: String, value: String) throws -> Op {
        try set(unit: unit, item: item, field: field, value: value, also: nil)
    }

    /// Sets one field like ``set(unit:item:field:value:)``, without blocking the calling thread.
    @discardableResult
    public func set(unit: String, item: String, field: String, value: String) async throws -> Op {
        let make = try makeSet(unit: unit, item: item, field: field, value: value)
        return try await write(recording(unit: unit, now: clock(), also: nil, make))
    }

    /// Sets one field like ``set(unit:item:field:value:)``, and runs `also` in the same transaction
    /// (the hub records a supervisor's decision in its own table this way).
    @discardableResult
    package func set(unit: String, item: String, field: String, value: String,
                     also: (@Sendable (Database, Op) throws -> Void)?) throws -> Op {
        let make = try makeSet(unit: unit, item: item, field: field, value: value)
        return try write(recording(unit: unit, now: clock(), also: also, make))
    }

    /// Sets one field like ``set(unit:item:field:value:also:)``, without blocking the calling thread.
    @discardableResult
    package func set(unit: String, item: String, field: String, value: String,
                     also: (@Sendable (Database, Op) throws -> Void)?) async throws -> Op {
        let make = try makeSet(unit: unit, item: item, field: field, value: value)
        return try await write(recording(unit: unit, now: clock(), also: also, make))
    }

    private func makeSet(unit: String, item: String, field: String, value: String) throws -> @Sendable (Int64, HLCTimestamp) -> Op {
        let index = context.state.withLock { $0.index }
        try checkKnownUnit(unit)
        let canonical = try index.field(field, of: item).normalize(value)
        let device = self.device
        return { sequence, timestamp in
            .set(device: device, sequence: sequence, timestamp: timestamp, unit: unit, item: item, field: field, value: canonical)
        }
    }

    /// Appends a finding, as this device.
    ///
    /// - Parameters:
    ///   - unit: the unit the finding is about.
    ///   - item: the checklist item it belongs under, or nil for the unit as a whole.
    ///   - kind: its kind.
    ///   - text: its text; stored in NFC, 1–4000 characters.
    /// - Returns: the operation; its ``InspectorCore/Op/finding`` is the new finding's id.
    @discardableResult
    public func addFinding(unit: String, item: String?, kind: FindingKind, text: String) throws -> Op {
        try write(recording(unit: unit, now: clock(), also: nil, makeFinding(unit: unit, item: item, kind: kind, text: text)))
    }

    /// Appends a finding like ``addFinding(unit:item:kind:text:)``, without blocking the calling thread.
    @discardableResult
    public func addFinding(unit: String, item: String?, kind: FindingKind, text: String) async throws -> Op {
        let make = try makeFinding(unit: unit, item: item, kind: kind, text: text)
        return try await write(recording(unit: unit, now: clock(), also: nil, make))
    }

    private func makeFinding(unit: String, item: String?, kind: FindingKind, text: String) throws -> @Sendable (Int64, HLCTimestamp) -> Op {
        try checkKnownUnit(unit)
        if let item { _ = try context.state.withLock({ $0.index }).item(item) }
        let checked = try Text.validated(text, what: "finding text")
        let device = self.device
        return { sequence, timestamp in
            .findingAdd(device: device, sequence: sequence, timestamp: timestamp, unit: unit, item: item, kind: kind, text: checked)
        }
    }

    /// Marks a finding retracted, with a reason; the finding itself stays in the log and the exports.
    ///
    /// - Parameters:
    ///   - id: the finding's id (`device/sequence`), which the replica must hold.
    ///   - reason: why; stored in NFC, 1–4000 characters.
    @discardableResult
    public func retractFinding(_ id: String, reason: String) throws -> Op {
        let checked = try Text.validated(reason, what: "retraction reason")
        let found = try read { db in try Self.findingLocation(db, id) }
        let (unit, make) = try makeRetraction(id, reason: checked, found: found)
        return try write(recording(unit: unit, now: clock(), also: nil, make))
    }

    /// Retracts a finding like ``retractFinding(_:reason:)``, without blocking the calling thread.
    @discardableResult
    public func retractFinding(_ id: String, reason: String) async throws -> Op {
        let checked = try Text.validated(reason, what: "retraction reason")
        let found = try await read { db in try Self.findingLocation(db, id) }
        let (unit, make) = try makeRetraction(id, reason: checked, found: found)
        return try await write(recording(unit: unit, now: clock(), also: nil, make))
    }

    private static func findingLocation(_ db: Database, _ id: String) throws -> FindingLocation? {
        try Row.fetchOne(db, sql: "SELECT unit, item FROM finding_rows WHERE id = ?", arguments: [id]).map {
            FindingLocation(unit: $0["unit"], item: $0["item"])
        }
    }

    private func makeRetraction(_ id: String, reason: String, found: FindingLocation?) throws -> (String, @Sendable (Int64, HLCTimestamp) -> Op) {
        guard let found else {
            throw StoreError(.unknownFinding, "no finding with id '\(id.excerpt(80))'; 'show' lists the findings and their ids")
        }
        let device = self.device
        return (found.unit, { sequence, timestamp in
            .findingRetract(device: device, sequence: sequence, timestamp: timestamp, unit: found.unit, item: found.item,
                            finding: id, reason: reason)
        })
    }

    /// The transaction that stamps and appends one local operation, updating the state with it.
    func recording(unit: String, now: Int64, also: (@Sendable (Database, Op) throws -> Void)?,
                           _ make: @escaping @Sendable (Int64, HLCTimestamp) -> Op) -> @Sendable (Database) throws -> Op {
        let device = self.device
        return { db in
            let meta = try Self.metaForEdit(db)
            if let scope = meta.scope, !scope.contains(unit) {
                throw StoreError(.outOfScope, "unit '\(unit)' is not assigned to this device; it may write: \(scope.sorted().joined(separator: ", "))")
            }
            // The clock's state is the greater of what merges saved in meta and this device's last
            // op (local edits do not write meta: one page less per commit).
            // Set-aside ops are out of the state and never sent: the clock does not follow them
            // (one re-recorded after `clock_ahead` must not inherit the time it replaces).
            var (millis, counter): (Int64, Int64) = (meta.millis, meta.counter)
            let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM ops WHERE device = (SELECT id FROM names WHERE name = ?)"), arguments: [device]) ?? 0
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT ms, counter FROM op_rows WHERE device_id = (SELECT id FROM names WHERE name = ?) AND set_aside = 0 ORDER BY seq DESC LIMIT 1"),
                                          arguments: [device]) {
                let ownMillis: Int64 = row[0], ownCounter: Int64 = row[1]
                if (ownMillis, ownCounter) > (millis, counter) { (millis, counter) = (ownMillis, ownCounter) }
            }
            // A bundle may have brought an op under this replica's own id with the last sequence number.
            guard last < Int64.max else {
                throw StoreError(.sequenceExhausted, "this replica's log already holds sequence number \(last) for '\(device)', the last there is; it cannot record more edits under this id")
            }
            var hlc = HybridLogicalClock(device: device, millis: millis, counter: counter)
            guard !hlc.isExhausted else {
                throw StoreError(.clockExhausted, "this replica's clock stands at the last valid timestamp (9999-12-31); it cannot record more edits")
            }
            let timestamp = hlc.tick(physical: HybridLogicalClock.physicalMillis(now: now, offset: meta.offset))
            let op = make(last + 1, timestamp)
            try Self.insert(op, into: db, using: makeWriters(db))
            try also?(db, op)
            return op
        }
    }

    /// What a local edit reads from `meta`, in one statement.
    struct EditMeta {
        var millis: Int64 = 0
        var counter: Int64 = 0
        var offset: Int64 = 0
        var scope: Set<String>?
    }

    static func metaForEdit(_ db: Database) throws -> EditMeta {
        var meta = EditMeta()
        let statement = try db.cachedStatement(sql: "SELECT key, value FROM meta WHERE key IN (?, ?, ?, ?)")
        let rows = try Row.fetchCursor(statement, arguments: [MetaKey.clockMillis.rawValue, MetaKey.clockCounter.rawValue,
                                                               MetaKey.clockOffset.rawValue, MetaKey.scope.rawValue])
        while let row = try rows.next() {
            let key: String = row[0]
            let value: String = row[1]
            switch MetaKey(rawValue: key) {
            case .clockMillis: meta.millis = Int64(value) ?? 0
            case .clockCounter: meta.counter = Int64(value) ?? 0
            case .clockOffset: meta.offset = Int64(value) ?? 0
            case .scope: meta.scope = Set((try? JSONDecoder().decode([String].self, from: Data(value.utf8))) ?? [])
            default: break
            }
        }
        return meta
    }

    static func loadClock(_ db: Database, device: String) throws -> HybridLogicalClock {
        let millis = Int64(try meta(db, .clockMillis) ?? "0") ?? 0
        let counter = Int64(try meta(db, .clockCounter) ?? "0") ?? 0
        return HybridLogicalClock(device: device, millis: millis, counter: counter)
    }

    static func saveClock(_ db: Database, _ clock: HybridLogicalClock) throws {
        try setMeta(db, .clockMillis, String(clock.millis))
        try setMeta(db, .clockCounter, String(clock.counter))
    }
}

import Foundation
import GRDB
import InspectorCore

extension ReplicaStore {
    /// Where a device replica stands with its hub, read in one transaction: what the sync client
    /// keeps between syncs, typed, and what it has set aside or held back.
    public struct SyncState: Hashable, Sendable {
        /// The hub's address, `HOST:PORT`, if this replica syncs with one.
        public var hubAddress: String?
        /// The highest of this device's sequence numbers the hub has confirmed (0 before any push).
        public var confirmed: Int64
        /// The highest sequence number recorded on this device.
        public var lastSequence: Int64
        /// The hub log position this device has pulled through.
        public var pullCursor: Int64
        /// Hub time minus device time in ms, as last measured, and when (device ms); nil before the first handshake.
        public var clockOffset: Int64?
        public var clockOffsetMeasuredAt: Int64?
        /// When the last sync ended (device ms), if ever.
        public var lastSync: Int64?
        /// The units the hub assigned, or nil before the hub has said.
        public var scope: Set<String>?
        /// This device's operations the hub refused, kept out of the state.
        public var setAside: [SetAsideOp]
        /// Pulled operations this device cannot store yet.
        public var heldBack: [HeldBackOp]
        /// The operations in the log, everyone's.
        public var operationCount: Int

        /// This device's operations the hub has not confirmed, set-aside ones left out.
        public var pending: Int64 {
            let confirmed = self.confirmed
            let setAsideAfter = Int64(setAside.filter { $0.sequence > confirmed }.count)
            return max(0, lastSequence - confirmed - setAsideAfter)
        }
    }

    /// Where this replica stands with its hub, read in one transaction.
    public func syncState() throws -> SyncState {
        try Self.wrap { try writer.read { db in try syncState(db) } }
    }

    /// Where this replica stands with its hub, read inside an open transaction.
    public func syncState(_ db: Database) throws -> SyncState {
        func number(_ key: MetaKey) throws -> Int64? { try Self.meta(db, key).flatMap { Int64($0) } }
        let scope = try Self.meta(db, .scope).map { text in
            Set((try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? [])
        }
        return SyncState(
            hubAddress: try Self.meta(db, .hubAddress),
            confirmed: try number(.hubConfirmedSequence) ?? 0,
            lastSequence: try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM ops WHERE device = ?", arguments: [device]) ?? 0,
            pullCursor: try number(.pullCursor) ?? 0,
            clockOffset: try number(.clockOffset),
            clockOffsetMeasuredAt: try number(.clockOffsetMeasuredAt),
            lastSync: try number(.lastSync),
            scope: scope,
            setAside: try Self.setAsideList(db),
            heldBack: try Self.heldBackList(db),
            operationCount: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ops") ?? 0)
    }

    /// Observes where this replica stands with its hub: the current state, then a new one after
    /// every commit that changes it (an edit, a sync's push or pull, a refusal), as
    /// ``observe(otherProcessesPolledEvery:_:)``.
    public func observeSyncState(otherProcessesPolledEvery interval: Duration? = nil) -> AsyncThrowingStream<SyncState, any Error> {
        let store = self
        return observe(otherProcessesPolledEvery: interval) { db in try store.syncState(db) }
    }
}

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
        /// How many held-back operations the hub was last told of (PROTOCOL.md 11.5).
        public var heldBackReported: Int
        /// The files of this device's attachments the hub has not yet said it holds (PROTOCOL.md 20).
        public var unconfirmedFiles: [AttachedFile] = []
        /// Whether this replica has ever completed a handshake (the first one may correct its clock).
        public var hasMetHub: Bool { clockOffsetMeasuredAt != nil }

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

    /// Where this replica stands with its hub, read in one transaction without blocking the calling thread.
    public func syncState() async throws -> SyncState {
        let store = self
        return try await read { db in try store.syncState(db) }
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
            lastSequence: try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM ops WHERE device = (SELECT id FROM names WHERE name = ?)", arguments: [device]) ?? 0,
            pullCursor: try number(.pullCursor) ?? 0,
            clockOffset: try number(.clockOffset),
            clockOffsetMeasuredAt: try number(.clockOffsetMeasuredAt),
            lastSync: try number(.lastSync),
            scope: scope,
            setAside: try Self.setAsideList(db),
            heldBack: try Self.heldBackList(db),
            // The log only ever appends, one position after the last: its last position is its
            // size, read from the primary key's end instead of counting every row.
            operationCount: Int(clamping: try Self.logEnd(db)),
            heldBackReported: try number(.heldBackReported).map { Int(clamping: $0) } ?? 0,
            unconfirmedFiles: try Self.attachedFiles(db, device: device).filter { !$0.isConfirmed })
    }

    /// Observes where this replica stands with its hub: the current state, then a new one after
    /// every commit that changes it (an edit, a sync's push or pull, a refusal), as
    /// ``observe(otherProcessesPolledEvery:_:)``.
    public func observeSyncState(otherProcessesPolledEvery interval: Duration? = nil) -> AsyncThrowingStream<SyncState, any Error> {
        let store = self
        return observe(otherProcessesPolledEvery: interval) { db in try store.syncState(db) }
    }
}

// MARK: - The hub this replica syncs with

extension ReplicaStore {
    /// The hub a device syncs with, as saved by ``connect(toHubAt:token:)``.
    public struct HubLink: Hashable, Sendable {
        /// `HOST:PORT`.
        public var address: String
        /// The device's token (a secret: never print it).
        public var token: String?

        public init(address: String, token: String?) {
            self.address = address
            self.token = token
        }
    }

    /// The hub this replica syncs with, or nil if none was set.
    public func hubLink() throws -> HubLink? {
        try Self.wrap {
            try writer.read { db in
                try Self.meta(db, .hubAddress).map { HubLink(address: $0, token: try Self.meta(db, .hubToken)) }
            }
        }
    }

    /// Sets the hub this device syncs with: its address and, when given, the device's token (a nil
    /// token keeps the saved one, for a hub that moved). Nothing else of the sync state changes.
    ///
    /// - Throws: ``StoreError`` `invalid_argument` for an empty address or token, or on the hub's replica.
    public func connect(toHubAt address: String, token: String? = nil) throws {
        guard role == .device else { throw StoreError(.invalidArgument, "the hub's replica does not sync with a hub") }
        guard !address.isEmpty, token?.isEmpty != true else {
            throw StoreError(.invalidArgument, "the hub's address and the device's token must not be empty")
        }
        var values: [MetaKey: String?] = [.hubAddress: address]
        if let token { values[.hubToken] = token }
        try setMeta(values)
    }
}

// MARK: - What the sync client records (package API)

extension ReplicaStore {
    /// Records what a hub's welcome said: the scope, the measured clock offset and when, and the
    /// confirmed number, in one transaction.
    package func recordWelcome(scope: [String], clockOffset: Int64, measuredAt: Int64, confirmed: Int64) async throws {
        let scopeText = String(decoding: try JSONEncoder().encode(scope), as: UTF8.self)
        try await write { db in
            try Self.setMeta(db, .scope, scopeText)
            try Self.setMeta(db, .clockOffset, String(clockOffset))
            try Self.setMeta(db, .clockOffsetMeasuredAt, String(measuredAt))
            try Self.setMeta(db, .hubConfirmedSequence, String(confirmed))
        }
    }

    /// Records the highest of this device's sequence numbers the hub has confirmed.
    package func recordConfirmed(_ confirmed: Int64) async throws {
        try await write { db in try Self.setMeta(db, .hubConfirmedSequence, String(confirmed)) }
    }

    /// Sets the pull cursor back to 0: the next pull brings the hub's whole log again (what this
    /// replica holds comes as duplicates, which change nothing).
    package func restartPull() async throws {
        try await write { db in try Self.setMeta(db, .pullCursor, "0") }
    }

    /// Records how many held-back operations the hub was told of.
    package func recordHeldBackReported(_ count: Int) async throws {
        try await write { db in try Self.setMeta(db, .heldBackReported, String(count)) }
    }

    /// Records when a sync ended (device ms).
    package func recordSyncEnded(at time: Int64) async throws {
        try await write { db in try Self.setMeta(db, .lastSync, String(time)) }
    }

    /// Sets the scope (the units the hub assigned) or removes it; for tests of scope rules.
    package func recordScope(_ scope: [String]?) throws {
        let text = try scope.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try setMeta([.scope: text])
    }

    /// Sets the measured clock offset (hub minus device, ms); for tests of clock rules.
    package func recordClockOffset(_ offset: Int64?) throws {
        try setMeta([.clockOffset: offset.map(String.init)])
    }
}

import Foundation
import InspectorCore
import InspectorStore

/// What a device knows about its standing with the hub, for `inspector status`.
public struct SyncStatus: Sendable, Hashable {
    public var device: String
    public var hub: String?
    /// The highest sequence number the hub confirmed at the last sync.
    public var confirmed: Int64
    /// The highest sequence number recorded on this device.
    public var lastSequence: Int64
    /// Operations recorded here that the hub has not confirmed (set-aside ones excluded).
    public var pending: Int64
    public var refused: [RefusedOp]
    /// Pulled operations this device cannot store yet (PROTOCOL.md 11.5).
    public var heldBack: [ReplicaStore.HeldBackOp]
    /// Hub time minus device time, ms, if ever measured.
    public var clockOffset: Int64?
    public var lastSync: Int64?
    public var scope: [String]?
    public var operationCount: Int
    /// Files of this device's attachments the hub has not confirmed holding.
    public var unconfirmedFiles: [ReplicaStore.AttachedFile]

    /// Reads the status from a replica, in one transaction.
    public init(store: ReplicaStore) throws {
        self.init(device: store.device, state: try store.syncState())
    }

    /// The status of `device` in the state its replica holds.
    public init(device: String, state: ReplicaStore.SyncState) {
        self.device = device
        hub = state.hubAddress
        confirmed = state.confirmed
        lastSequence = state.lastSequence
        refused = state.setAside
        heldBack = state.heldBack
        pending = state.pending
        clockOffset = state.clockOffset
        lastSync = state.lastSync
        scope = state.scope?.sorted()
        operationCount = state.operationCount
        unconfirmedFiles = state.unconfirmedFiles
    }

    /// Observes a replica's status: the current one, then a new one after every commit that changes
    /// it (an edit, each batch a sync pushes or pulls, a refusal). An app shows "3 edits only on this
    /// tablet" from it, and sees it drop to 0 as a sync goes.
    ///
    /// - Parameter interval: how often to look for commits by other processes; nil for this process's only.
    public static func observe(_ store: ReplicaStore, otherProcessesPolledEvery interval: Duration? = nil) -> AsyncThrowingStream<SyncStatus, any Error> {
        let device = store.device
        let states = store.observeSyncState(otherProcessesPolledEvery: interval)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await state in states { continuation.yield(SyncStatus(device: device, state: state)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Whether the hub confirmed more of this device's operations than this replica holds: the
    /// replica was re-created or restored from an old copy, and what it records cannot be sent.
    public var isBehindHub: Bool { confirmed > lastSequence }

    /// Whether the clock offset is beyond ``SyncClient/clockWarningThreshold``.
    public var isClockOffsetLarge: Bool { abs(clockOffset ?? 0) > SyncClient.clockWarningThreshold }

    /// A readable report.
    public var text: String {
        var lines = ["device: \(device)", "hub: \(hub ?? "none (offline replica)")"]
        lines.append("operations in the log: \(operationCount)")
        lines.append("this device's operations: \(lastSequence); confirmed by the hub up to #\(confirmed)")
        if isBehindHub {
            lines.append("WARNING: the hub holds #\(confirmed) of device \(device)'s operations but this replica only #\(lastSequence): it was re-created or restored from an old copy, and what is recorded here cannot be sent; ask the office to enroll it under a new device id")
        } else {
            lines.append(pending == 0 ? "everything recorded here is safe at the hub" : "only on this device: \(pending) operation(s) — sync before leaving coverage")
        }
        if !unconfirmedFiles.isEmpty {
            let bytes = unconfirmedFiles.reduce(Int64(0)) { $0 + $1.size }
            lines.append("files not yet at the hub: \(unconfirmedFiles.count) (\(bytes) bytes) — sync to send them")
            for file in unconfirmedFiles {
                lines.append("  \(file.names.joined(separator: ", ")) — \(file.size) bytes, sha256 \(file.hash.prefix(16))…")
            }
        }
        for op in refused { lines.append("set aside: #\(op.sequence) refused by the hub (\(op.code)): \(op.message)") }
        for op in heldBack {
            lines.append("held back: \(op.device ?? "?")#\(op.sequence.map(String.init) ?? "?") pulled but not stored (\(op.code)): \(op.message); tried again at every sync")
        }
        if let clockOffset {
            lines.append("clock offset to the hub: \(Self.describe(offset: clockOffset))\(isClockOffsetLarge ? "  WARNING: beyond 5 minutes" : "")")
        } else {
            lines.append("clock offset to the hub: not measured yet")
        }
        lines.append("last sync: \(lastSync.map(ISOTime.format(millis:)) ?? "never")")
        if let scope { lines.append("assigned units: \(scope.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }

    /// An offset as `+3 d 0 h 0 min 0.123 s` or `-1.5 s`.
    public static func describe(offset: Int64) -> String {
        let sign = offset < 0 ? "-" : "+"
        var ms = abs(offset)
        let days = ms / 86_400_000; ms %= 86_400_000
        let hours = ms / 3_600_000; ms %= 3_600_000
        let minutes = ms / 60_000; ms %= 60_000
        let seconds = String(format: "%.3f", Double(ms) / 1000)
        if days > 0 { return "\(sign)\(days) d \(hours) h \(minutes) min \(seconds) s" }
        if hours > 0 { return "\(sign)\(hours) h \(minutes) min \(seconds) s" }
        if minutes > 0 { return "\(sign)\(minutes) min \(seconds) s" }
        return "\(sign)\(seconds) s"
    }
}

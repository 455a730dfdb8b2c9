import GRDB
import InspectorCore

extension ReplicaStore {
    /// Restores operations this replica recorded before, from a copy of its log (a bundle it
    /// exported, a backup), into a replica that has lost them: a phone reset, a replica created
    /// afresh under the same device id.
    ///
    /// ``merge(_:meta:)`` refuses an operation under the replica's own id that it does not hold
    /// (`own_operation`, PROTOCOL.md 6.5): only this replica writes its own sequence. Restoring takes
    /// them back, on the same terms as a merge (the plan, the time, the references), provided they
    /// continue the replica's own sequence without a gap: sorted by sequence number, each one not
    /// held must be the next number after those held. A forged operation far ahead (at 2⁶³−1, say)
    /// can therefore never take the numbers the replica records next. All or nothing.
    ///
    /// Restored operations count as having left the device (a copy of them exists): their
    /// timestamps are never corrected (``correctUnsentTimestamps(by:confirmed:)``).
    ///
    /// - Parameter operations: operations under this replica's id, in any order.
    /// - Returns: how many were restored, and how many were already held.
    /// - Throws: ``RefusedOperation`` with `own_operation` for a gap, ``InspectorCore/CoreError`` for
    ///   an operation of another device or a plan rule, or ``StoreError``; nothing is written.
    @discardableResult
    public func restoreOwnOperations(_ operations: [Op]) throws -> MergeResult {
        if let foreign = operations.first(where: { $0.device != device }) {
            throw CoreError(.invalidDeviceID, "only this replica's own operations (\(device.excerpt(64))) can be restored; \(foreign.device.excerpt(64))#\(foreign.sequence) is another device's: merge it")
        }
        let sorted = operations.sorted { $0.sequence < $1.sequence }
        try validate(sorted)
        let now = clock()
        return try Self.wrap {
            try writer.write { db in
                let result = try mergeTransaction(db, sorted, now: now, checkingTimes: true, meta: [:], restoring: true)
                if let last = sorted.last?.sequence, last > (Int64(try Self.meta(db, .bundleExportedThrough) ?? "0") ?? 0) {
                    try Self.setMeta(db, .bundleExportedThrough, String(last))
                }
                return result
            }
        }
    }
}

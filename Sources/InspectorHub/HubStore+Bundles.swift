import Foundation
import GRDB
import InspectorCore
import InspectorProtocol
import InspectorStore

extension HubStore {
    /// Merges a bundle carried in by hand, like a push: validated, all or nothing, durable before it
    /// returns; enrolled devices' confirmed numbers move past what the bundle brought.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_bundle` for another plan, the store's
    ///   errors for a refused operation. Nothing is imported when it throws.
    @discardableResult
    public func importBundle(_ bundle: BundleFile) async throws -> ReplicaStore.MergeResult {
        guard bundle.plan == replica.plan.id else {
            throw ProtocolError(.badBundle, "the bundle follows plan '\(bundle.plan.excerpt(70))' but this hub follows '\(replica.plan.id)'; nothing was imported")
        }
        try replica.validate(bundle.ops)
        let now = replica.clock()
        for op in bundle.ops {
            do throws(CoreError) { try op.checkNotAhead(of: now) } catch {
                throw ReplicaStore.RefusedOperation(device: op.device, sequence: op.sequence, error: error)
            }
        }
        let devices = Set(bundle.ops.map(\.device))
        let (result, _) = try await replica.mergeValidated(bundle.ops) { db, _ in
            for device in devices {
                let enrolled = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?)", arguments: [device]) ?? false
                if enrolled { _ = try Self.advanceConfirmed(db, device: device) }
            }
        }
        return result
    }

    /// The dataset, or the part of it one device may see.
    ///
    /// - Parameter device: nil for every unit; a device id for exactly the units in its scope.
    public func dataset(for device: String? = nil) async throws -> Dataset {
        guard let device else { return try replica.dataset() }
        guard let record = try await self.device(device) else {
            throw HubError(.unknownDevice, "no device '\(device.excerpt(70))' is enrolled")
        }
        return try replica.dataset(unitIDs: scope(of: record))
    }
}

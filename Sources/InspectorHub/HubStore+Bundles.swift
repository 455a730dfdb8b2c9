import Foundation
import GRDB
import InspectorCore
import InspectorProtocol
import InspectorStore

extension HubStore {
    /// Merges a bundle carried in by hand, like a push: validated, all or nothing, durable before it
    /// returns; enrolled devices' confirmed numbers move past what the bundle brought.
    ///
    /// Every author's ops must verify against its signed head (``InspectorProtocol/BundleFile/decode(_:)``
    /// checked the chains), signed by the key the device enrolled — or, for a device that has not
    /// enrolled one yet, with a proof of its enrollment secret, which enrolls the key.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_bundle` for another plan, `bad_signature`
    ///   for a key that is not the author's, `unknown_author` for an author the hub cannot check;
    ///   the store's errors for a refused operation. Nothing is imported when it throws.
    @discardableResult
    public func importBundle(_ bundle: BundleFile) async throws -> ReplicaStore.MergeResult {
        guard bundle.plan == replica.plan.id else {
            throw ProtocolError(.badBundle, "the bundle follows plan '\(bundle.plan.excerpt(70))' but this hub follows '\(replica.plan.id)'; nothing was imported")
        }
        let result = try await importOperations(bundle.ops, signedBy: bundle.heads)
        // The files, once their ops are durable (a crash between leaves the ops, and the file is
        // sent again by a sync or by importing the bundle again).
        let files = attachmentFiles
        for (hash, bytes) in bundle.files.sorted(by: { $0.key < $1.key }) where !files.holds(hash) {
            // On the queue of every file write: not beside a live session's chunks of the same file,
            // and not on Swift's cooperative pool.
            let stored: Result<Int64, any Error> = await Self.onFileQueue {
                Result { try files.append(bytes, at: 0, to: hash, size: Int64(bytes.count)) }
            }
            if case .failure(let error) = stored { throw ProtocolError(answering: error) }
        }
        return result
    }

    /// Merges operations the caller vouches for, like a bundle but without signed heads: for test
    /// fixtures and tools inside this package, never for anything a peer sent.
    @discardableResult
    package func importTrustedOperations(_ ops: [Op]) async throws -> ReplicaStore.MergeResult {
        try await importOperations(ops, signedBy: nil)
    }

    private func importOperations(_ ops: [Op], signedBy heads: [ChainSegment]?) async throws -> ReplicaStore.MergeResult {
        let bundle = (ops: ops, heads: heads ?? [])
        let checksSignatures = heads != nil
        try replica.validate(bundle.ops)
        let now = replica.clock()
        for op in bundle.ops {
            do throws(CoreError) { try op.checkNotAhead(of: now) } catch {
                throw ReplicaStore.RefusedOperation(device: op.device, sequence: op.sequence, error: error)
            }
        }
        let devices = Set(bundle.ops.map(\.device))
        let heads = bundle.heads
        let hubKey = identity.fingerprint
        // Whose keys signed, first: a forged bundle is named as such rather than by what else it breaks.
        if checksSignatures {
            try await replica.read { db in try Self.acceptSegments(db, heads, carrying: ops, hubKey: hubKey, now: now, recording: false) }
        }
        let (result, _) = try await replica.mergeValidated(bundle.ops) { db, _ in
            // Who signed: each author's key, as the hub knows it (PROTOCOL.md 19.4).
            if checksSignatures { try Self.acceptSegments(db, heads, carrying: ops, hubKey: hubKey, now: now) }
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

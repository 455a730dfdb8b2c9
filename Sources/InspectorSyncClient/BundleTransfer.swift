import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore

/// Moves operations between a replica and a bundle file.
///
/// ```swift
/// let summary = try BundleTransfer.export(from: store, to: url, since: 0)
/// let result = try BundleTransfer.import(from: url, into: otherStore)
/// ```
public enum BundleTransfer {
    /// What an export wrote.
    public struct Summary: Sendable {
        public var count: Int
        public var from: Int64
        public var through: Int64
    }

    /// Writes the replica's operations after log position `since` to `url`, atomically (a temporary
    /// file renamed into place), so a crash never leaves half a bundle under the final name.
    public static func export(from store: ReplicaStore, to url: URL, since: Int64 = 0) throws -> Summary {
        guard since >= 0 else { throw ProtocolError(.badBundle, "--since must be 0 or more") }
        let rows = try store.operations(after: since, includingSetAside: false)
        let through = rows.last?.position ?? since
        let bundle = BundleFile(plan: store.plan.id, device: store.device, from: since, through: through, ops: rows.map(\.operation))
        do {
            try bundle.encoded().write(to: url, options: .atomic)
        } catch {
            throw ProtocolError(.badBundle, "cannot write the bundle to \(url.path)")
        }
        if let own = rows.last(where: { $0.operation.device == store.device }) {
            try store.noteExported(throughSequence: own.operation.sequence)
        }
        return Summary(count: rows.count, from: since, through: through)
    }

    /// Reads, verifies and merges a bundle, all or nothing.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_bundle` naming the bad line, or the store's
    ///   error for an operation the plan refuses. Nothing is imported when it throws.
    @discardableResult
    public static func `import`(from url: URL, into store: ReplicaStore) throws -> ReplicaStore.MergeResult {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ProtocolError(.badBundle, "cannot read the bundle \(url.path)")
        }
        let bundle = try BundleFile.decode(data)
        guard bundle.plan == store.plan.id else {
            throw ProtocolError(.badBundle, "the bundle follows plan '\(bundle.plan.excerpt(70))' but this replica follows '\(store.plan.id)'; nothing was imported")
        }
        return try store.merge(bundle.ops)
    }
}

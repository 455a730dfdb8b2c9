import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore
import InspectorTLS

/// Moves operations between a replica and a bundle file.
///
/// ```swift
/// let summary = try BundleTransfer.export(from: store, to: url, since: 0)
/// let result = try BundleTransfer.import(from: url, into: otherStore)
/// ```
public enum BundleTransfer {
    /// What an export wrote.
    public struct Summary: Sendable {
        /// The operations written: this device's own.
        public var count: Int
        public var from: Int64
        public var through: Int64
        /// Operations of other devices in the exported part of the log, which a bundle does not
        /// relay: only their author can sign them (PROTOCOL.md 17.4, 19).
        public var othersLeftOut: Int
        /// Files of attachments written with the ops, and their bytes.
        public var files: Int
        public var fileBytes: Int64
    }

    /// Writes this device's own operations after log position `since` to `url`, with its signed
    /// chain head, atomically (a temporary file renamed into place), so a crash never leaves half a
    /// bundle under the final name.
    ///
    /// The head is signed with the device key in ``SyncClient/keyFile(of:)`` (made there if absent)
    /// and carries a proof of the enrollment secret, so a hub that has not met the device yet can
    /// enroll its key from the bundle (PROTOCOL.md 19.4).
    public static func export(from store: ReplicaStore, to url: URL, since: Int64 = 0) throws -> Summary {
        guard since >= 0 else { throw ProtocolError(.badBundle, "--since must be 0 or more") }
        let rows = try store.operations(after: since, includingSetAside: false)
        let through = rows.last?.position ?? since
        let own = rows.map(\.operation).filter { $0.device == store.device }
        var heads: [ChainSegment] = []
        if let first = own.first, let last = own.last {
            let identity = try TLSIdentity.loadOrCreate(keyFile: SyncClient.keyFile(of: store))
            let head = try OwnChain.segment(of: store, from: first.sequence, through: last.sequence, carried: Set(own.map(\.sequence)),
                                               signingKey: identity.privateKey, enrollmentSecret: try store.hubLink()?.token)
            heads.append(head)
        }
        // The files the exported ops attach, that this device holds (PROTOCOL.md 17.6).
        var files: [String: [UInt8]] = [:]
        for op in own {
            guard let file = op.attachment, files[file.hash] == nil, store.attachmentFiles.holds(file.hash) else { continue }
            files[file.hash] = try store.attachmentFiles.read(file.hash, at: 0, count: Int(file.size))
        }
        let bundle = BundleFile(plan: store.plan.id, device: store.device, from: since, through: through, ops: own, heads: heads, files: files)
        do {
            try bundle.encoded().write(to: url, options: .atomic)
        } catch {
            throw ProtocolError(.badBundle, "cannot write the bundle to \(url.path)")
        }
        if let head = heads.first {
            try store.noteExported(throughSequence: head.through)
            try store.recordChainAnchor(OwnChain.anchor(after: head))
        }
        return Summary(count: own.count, from: since, through: through, othersLeftOut: rows.count - own.count,
                       files: files.count, fileBytes: files.values.reduce(Int64(0)) { $0 + Int64($1.count) })
    }

    /// Reads, verifies and merges a bundle, all or nothing.
    ///
    /// Every author's operations must verify against its signed head, signed by the key the hub
    /// listed for that device at the last sync (or this device's own key).
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_bundle` naming the bad line,
    ///   `bad_signature` naming the op or run that does not verify or the key that is not the
    ///   author's, `unknown_author` for a device whose key this replica does not know; the store's
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
        var known = try store.authorKeys()
        let keyFile = SyncClient.keyFile(of: store)
        if FileManager.default.fileExists(atPath: keyFile) {
            known[store.device] = try TLSIdentity.loadOrCreate(keyFile: keyFile).fingerprint.description
        }
        for head in bundle.heads {
            guard let key = known[head.device] else {
                throw ProtocolError(.unknownAuthor, "the bundle carries operations of '\(head.device.excerpt(70))', whose key this replica does not know (it learns the keys of enrolled devices from the hub at each sync); nothing was imported")
            }
            guard key == head.fingerprint.description else {
                throw ProtocolError(.badSignature, "the operations of '\(head.device.excerpt(70))' are signed by the key \(head.fingerprint), not by its key \(key); nothing was imported")
            }
        }
        let result = try store.merge(bundle.ops)
        let files = store.attachmentFiles
        for (hash, bytes) in bundle.files.sorted(by: { $0.key < $1.key }) where !files.holds(hash) {
            _ = try files.append(bytes, at: 0, to: hash, size: Int64(bytes.count))
        }
        return result
    }
}

import Crypto
import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore

/// Signs runs of a device's own operation chain (PROTOCOL.md 19) for its pushes and bundles.
///
/// The chain covers every operation the device recorded, set-aside ones included (they travel as
/// digests). It is folded from the store's last anchor — a point whose operations have left the
/// device and can no longer change — or from the genesis value when there is none (a replica of an
/// earlier release folds its whole log once).
enum OwnChain {
    /// A signed segment over the device's sequence numbers `from` through `through`; those not in
    /// `carried` travel as digests.
    static func segment(of store: ReplicaStore, from: Int64, through: Int64, carried: Set<Int64>,
                        signingKey: P256.Signing.PrivateKey, enrollmentSecret: String? = nil) async throws -> ChainSegment {
        let anchor = try await store.chainAnchor().flatMap { $0.sequence < from ? $0 : nil }
        let start = (anchor?.sequence ?? 0) + 1
        let entries = try await store.chainEntries(in: start...through)
        return try make(store.device, entries: entries, anchor: anchor, from: from, through: through, carried: carried,
                        signingKey: signingKey, enrollmentSecret: enrollmentSecret)
    }

    /// The same, synchronously (for the CLI's bundles).
    static func segment(of store: ReplicaStore, from: Int64, through: Int64, carried: Set<Int64>,
                           signingKey: P256.Signing.PrivateKey, enrollmentSecret: String? = nil) throws -> ChainSegment {
        let anchor = try store.chainAnchor().flatMap { $0.sequence < from ? $0 : nil }
        let start = (anchor?.sequence ?? 0) + 1
        let entries = try store.chainEntries(in: start...through)
        return try make(store.device, entries: entries, anchor: anchor, from: from, through: through, carried: carried,
                        signingKey: signingKey, enrollmentSecret: enrollmentSecret)
    }

    private static func make(_ device: String, entries: [ReplicaStore.ChainEntry], anchor: ReplicaStore.ChainAnchor?,
                             from: Int64, through: Int64, carried: Set<Int64>, signingKey: P256.Signing.PrivateKey,
                             enrollmentSecret: String?) throws -> ChainSegment {
        var previous = anchor.flatMap { ChainHash(bytes: $0.value) } ?? .genesis
        var expected = (anchor?.sequence ?? 0) + 1
        var run: [Op] = []
        var leftOut: Set<Int64> = []
        for entry in entries {
            let op = entry.operation
            guard op.sequence == expected else {
                throw StoreError(.storageFailed, "this device's own log has no operation #\(expected); its chain cannot be signed")
            }
            expected += 1
            if op.sequence < from {
                previous = OpChain.link(previous, OpChain.digest(of: op))
            } else {
                run.append(op)
                if entry.isSetAside || !carried.contains(op.sequence) { leftOut.insert(op.sequence) }
            }
        }
        guard expected == through + 1 else {
            throw StoreError(.storageFailed, "this device's own log ends at #\(expected - 1), before #\(through); its chain cannot be signed")
        }
        var segment = try ChainSegment.make(device: device, previous: previous, operations: run, leavingOut: leftOut, signingKey: signingKey)
        if let enrollmentSecret {
            let secret = enrollmentSecret.firstIndex(of: "@").map { String(enrollmentSecret[..<$0]) } ?? enrollmentSecret
            segment.enrollment = ChainSegment.enrollmentProof(device: device, key: segment.key,
                                                               secretDigest: Array(SHA256.hash(data: Data(secret.utf8))))
        }
        return segment
    }

    /// The anchor to record once a segment's operations have left the device.
    static func anchor(after segment: ChainSegment) -> ReplicaStore.ChainAnchor {
        ReplicaStore.ChainAnchor(sequence: segment.through, value: segment.head.bytes)
    }
}

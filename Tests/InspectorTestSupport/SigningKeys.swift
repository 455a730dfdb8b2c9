import Crypto
import Foundation
import InspectorCore
import InspectorProtocol

/// Fixed device keys for tests, and the signed chain heads an honest device would write
/// (PROTOCOL.md 19), so that tests build bundles and pushes that verify.
public enum SigningKeys {
    /// The key of a device id, the same in every run: SHA-256 of `test-key-ID` as a P-256 scalar.
    public static func key(for device: String) -> P256.Signing.PrivateKey {
        let seed = Array(SHA256.hash(data: Data("test-key-\(device)".utf8)))
        return try! P256.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// The fingerprint of ``key(for:)``.
    public static func fingerprint(for device: String) -> KeyFingerprint {
        KeyFingerprint(subjectPublicKeyInfo: key(for: device).publicKey.derRepresentation)
    }

    /// One head per author of `ops`, each over that author's ops (a run without holes, in any
    /// order), signed with ``key(for:)`` (or `keys`). `history` holds the author's earlier ops, from
    /// its first, for the chain value before the run.
    public static func heads(for ops: [Op], history: [Op] = [],
                             keys: (String) -> P256.Signing.PrivateKey = key(for:)) -> [ChainSegment] {
        Set(ops.map(\.device)).sorted().map { author in
            let run = ops.filter { $0.device == author }.sorted { $0.sequence < $1.sequence }
            let from = run[0].sequence
            var previous = ChainHash.genesis
            for op in history.filter({ $0.device == author && $0.sequence < from }).sorted(by: { $0.sequence < $1.sequence }) {
                previous = OpChain.link(previous, OpChain.digest(of: op))
            }
            return try! ChainSegment.make(device: author, previous: previous, operations: run, leavingOut: [], signingKey: keys(author))
        }
    }

    /// A bundle of `ops` with the heads of ``heads(for:history:keys:)``.
    public static func bundle(plan: String, device: String, from: Int64 = 0, through: Int64? = nil, ops: [Op], history: [Op] = [],
                              keys: (String) -> P256.Signing.PrivateKey = key(for:)) -> BundleFile {
        BundleFile(plan: plan, device: device, from: from, through: through ?? from + Int64(ops.count), ops: ops,
                   heads: heads(for: ops, history: history, keys: keys))
    }
}

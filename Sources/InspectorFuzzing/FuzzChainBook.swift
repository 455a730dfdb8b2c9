import Crypto
import Foundation
import InspectorCore
import InspectorProtocol

/// What a fuzzed session knows of each author's signed operation chain (PROTOCOL.md 19): the
/// digest and chain value of every op the hub accepted, so that it can sign the next push or bundle
/// as an honest device would — and, where it cannot (ops it never saw, a sequence number twice),
/// signs what it has, which the hub must then refuse without changing anything.
struct FuzzChainBook {
    private var digests: [String: [Int64: ChainHash]] = [:]
    private var values: [String: [Int64: ChainHash]] = [:]

    /// A key for a device id, the same in every run: the first 32 bytes of SHA-256 of the id, as a
    /// P-256 scalar (such a hash is a valid scalar but with negligible probability).
    static func key(for device: String) -> P256.Signing.PrivateKey {
        let seed = Array(SHA256.hash(data: Data("fuzz-key-\(device)".utf8)))
        return (try? P256.Signing.PrivateKey(rawRepresentation: seed)) ?? P256.Signing.PrivateKey()
    }

    /// A segment over one author's `ops` (in any order), from their lowest sequence number to their
    /// highest; numbers in between that do not travel become digests when the book knows them, and
    /// a made-up digest otherwise. Nil when the ops are not one author's, or a number repeats.
    func segment(over ops: [Op], signedWith key: P256.Signing.PrivateKey, corrupt: Bool) -> ChainSegment? {
        guard let device = ops.first?.device, ops.allSatisfy({ $0.device == device }) else { return nil }
        let sorted = ops.sorted { $0.sequence < $1.sequence }
        guard let from = sorted.first?.sequence, let through = sorted.last?.sequence,
              Set(sorted.map(\.sequence)).count == sorted.count, through &- from < 4096, from >= 1 else { return nil }
        let known = digests[device] ?? [:]
        var previous = from == 1 ? ChainHash.genesis : values[device]?[from - 1] ?? ChainHash(bytes: Array(repeating: 7, count: 32))!
        if corrupt { previous = ChainHash(bytes: Array(repeating: 9, count: 32))! }
        var carried: [Int64: Op] = [:]
        for op in sorted { carried[op.sequence] = op }
        var chain = previous
        var gaps: [Int64: ChainHash] = [:]
        for sequence in from...through {
            let digest: ChainHash
            if let op = carried[sequence] {
                digest = OpChain.digest(of: op)
            } else {
                digest = known[sequence] ?? ChainHash(bytes: Array(repeating: UInt8(truncatingIfNeeded: sequence), count: 32))!
                gaps[sequence] = digest
            }
            chain = OpChain.link(chain, digest)
        }
        guard let signature = try? key.signature(for: ChainSegment.signedBytes(device: device, through: through, head: chain)) else { return nil }
        return ChainSegment(device: device, from: from, previous: previous, through: through, head: chain,
                            key: Array(key.publicKey.derRepresentation), signature: Array(signature.rawRepresentation), gaps: gaps)
    }

    /// Notes a segment the hub accepted: its ops' digests and the chain values along it.
    mutating func accepted(_ segment: ChainSegment, carrying ops: [Op]) {
        var byNumber = segment.gaps
        for op in ops where op.device == segment.device { byNumber[op.sequence] = OpChain.digest(of: op) }
        var chain = segment.previous
        guard segment.through >= segment.from else { return }
        for sequence in segment.from...segment.through {
            guard let digest = byNumber[sequence] else { return }
            chain = OpChain.link(chain, digest)
            digests[segment.device, default: [:]][sequence] = digest
            values[segment.device, default: [:]][sequence] = chain
        }
    }
}

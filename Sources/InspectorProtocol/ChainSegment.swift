import Crypto
import Foundation
import InspectorCore

/// A device's signed chain head, with what a receiver needs to check a run of its operations against
/// it (PROTOCOL.md 19.2).
///
/// A segment covers the device's sequence numbers `from` through `through`. It carries the chain
/// value before them (``previous``), the chain value after them (``head``), the device's signature of
/// the head with its key, and the digest of every operation of the run that does not travel with it
/// (``gaps``: ops the device set aside, or left out). A receiver folds the chain from ``previous``
/// over the operations it received and the gaps, and accepts them only when it reaches ``head`` and
/// the signature verifies with the key it knows for the device.
///
/// ```swift
/// let segment = try ChainSegment.make(device: "dev-a", previous: .genesis, operations: ops,
///                                     leavingOut: [], signingKey: key)
/// try segment.verify(carrying: ops)                     // throws bad_signature
/// ```
public struct ChainSegment: Sendable, Equatable {
    /// The author.
    public var device: String
    /// The first sequence number covered.
    public var from: Int64
    /// The chain value before `from`: `h(from − 1)`.
    public var previous: ChainHash
    /// The last sequence number covered: the signed head's number.
    public var through: Int64
    /// The chain value at `through`: `h(through)`.
    public var head: ChainHash
    /// The author's public key, as its DER `SubjectPublicKeyInfo`; receivers check its fingerprint.
    public var key: [UInt8]
    /// ECDSA P-256 with SHA-256 over ``signedBytes``, as the 64 bytes `r ‖ s`.
    public var signature: [UInt8]
    /// The digests of the covered operations that do not travel with the segment, by sequence number.
    public var gaps: [Int64: ChainHash]
    /// In a bundle of a device that has not enrolled its key yet: proof that it holds the enrollment
    /// secret (19.4).
    public var enrollment: [UInt8]?

    public init(device: String, from: Int64, previous: ChainHash, through: Int64, head: ChainHash, key: [UInt8],
                signature: [UInt8], gaps: [Int64: ChainHash] = [:], enrollment: [UInt8]? = nil) {
        self.device = device
        self.from = from
        self.previous = previous
        self.through = through
        self.head = head
        self.key = key
        self.signature = signature
        self.gaps = gaps
        self.enrollment = enrollment
    }

    /// The fingerprint of the key that signed the head.
    public var fingerprint: KeyFingerprint { KeyFingerprint(subjectPublicKeyInfo: key) }

    /// What the device signs: `"InspectorSync chain head v1\n"`, the device id's UTF-8 length as a
    /// 4-byte big-endian integer, its bytes, `through` as an 8-byte big-endian integer, and `head`.
    public static func signedBytes(device: String, through: Int64, head: ChainHash) -> [UInt8] {
        var bytes = Array("InspectorSync chain head v1\n".utf8)
        bytes.append(contentsOf: bigEndian(UInt64(device.utf8.count), width: 4))
        bytes.append(contentsOf: device.utf8)
        bytes.append(contentsOf: bigEndian(UInt64(bitPattern: through), width: 8))
        bytes.append(contentsOf: head.bytes)
        return bytes
    }

    /// Signs the run of `operations`: every sequence number of the device from the first to the last,
    /// in order, with no hole; those in `leftOut` travel as digests.
    ///
    /// - Parameters:
    ///   - previous: the chain value before the first operation (``ChainHash/genesis`` before `s` 1).
    /// - Throws: ``ProtocolError`` `invalid_argument` when the operations are not one device's
    ///   contiguous run.
    public static func make(device: String, previous: ChainHash, operations: [Op], leavingOut leftOut: Set<Int64>,
                            signingKey: P256.Signing.PrivateKey) throws(ProtocolError) -> ChainSegment {
        guard let first = operations.first, let last = operations.last else {
            throw ProtocolError(.invalidArgument, "a signed chain segment covers at least one operation")
        }
        var chain = previous
        var gaps: [Int64: ChainHash] = [:]
        var expected = first.sequence
        for op in operations {
            guard op.device == device, op.sequence == expected else {
                throw ProtocolError(.invalidArgument, "operation \(op.device)#\(op.sequence) breaks the run of \(device) expected at #\(expected)")
            }
            let digest = OpChain.digest(of: op)
            if leftOut.contains(op.sequence) { gaps[op.sequence] = digest }
            chain = OpChain.link(chain, digest)
            expected &+= 1
        }
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try signingKey.signature(for: signedBytes(device: device, through: last.sequence, head: chain))
        } catch {
            throw ProtocolError(.invalidArgument, "the device key could not sign the chain head")
        }
        return ChainSegment(device: device, from: first.sequence, previous: previous, through: last.sequence, head: chain,
                            key: Array(signingKey.publicKey.derRepresentation), signature: Array(signature.rawRepresentation), gaps: gaps)
    }

    /// Checks `operations` (the author's operations that travel with the segment, in any order)
    /// against the segment: each is covered once, every other covered number has a digest, the chain
    /// folds from ``previous`` to ``head``, and the signature verifies with ``key``. It does not say
    /// whose key that is: the caller compares ``fingerprint`` with the key it knows for the device.
    ///
    /// - Throws: ``ProtocolError`` `bad_signature` naming the operation, or the run, at fault.
    public func verify(carrying operations: [Op]) throws(ProtocolError) {
        let name = "\(device.excerpt(70))#\(from)–#\(through)"
        guard from >= 1, through >= from else {
            throw ProtocolError(.badSignature, "the signed head of \(device.excerpt(70)) covers #\(from) to #\(through), which is no run of sequence numbers")
        }
        guard from > 1 || previous == .genesis else {
            throw ProtocolError(.badSignature, "the signed chain of \(device.excerpt(70)) does not start from the genesis value at #1")
        }
        // Every covered number exactly once: counted before anything is allocated by the range.
        guard through - from == Int64(operations.count + gaps.count) - 1 else {
            if let stray = operations.first(where: { $0.sequence < from || $0.sequence > through }) {
                throw ProtocolError(.badSignature, "operation \(stray.device.excerpt(70))#\(stray.sequence) is not covered by the signed head \(name)")
            }
            // Name the first number that nothing covers, from the numbers that travel (never
            // walking the claimed range, which a peer may make as long as Int64 allows).
            let covered = (operations.map(\.sequence) + gaps.keys).filter { $0 >= from && $0 <= through }.sorted()
            var expected: Int64? = from  // nil: every number up to `through` is covered
            for sequence in covered where sequence >= expected ?? .max {
                guard sequence == expected else { break }
                expected = sequence == through ? nil : sequence + 1
            }
            if let expected {
                throw ProtocolError(.badSignature, "operation \(device.excerpt(70))#\(expected) is missing: neither it nor its digest travels with the signed head \(name) (an operation was dropped)")
            }
            throw ProtocolError(.badSignature, "the signed head \(name) covers \(through - from + 1) sequence numbers but \(operations.count) operations and \(gaps.count) digests travel with it: an operation was dropped or added")
        }
        for op in operations {
            guard op.device == device else {
                throw ProtocolError(.badSignature, "operation \(op.device.excerpt(70))#\(op.sequence) is checked against the signed head of another device, \(device.excerpt(70))")
            }
            guard op.sequence >= from, op.sequence <= through else {
                throw ProtocolError(.badSignature, "operation \(op.device.excerpt(70))#\(op.sequence) is not covered by the signed head \(name)")
            }
        }
        // The ops in order of their numbers (a push's and a bundle's usually are), merged with the
        // gaps in theirs: each number of the run must come next, exactly once.
        let inOrder = zip(operations, operations.dropFirst()).allSatisfy { $0.sequence < $1.sequence }
        let ordered = inOrder ? Array(operations.indices) : operations.indices.sorted { operations[$0].sequence < operations[$1].sequence }
        let gapNumbers = gaps.keys.sorted()
        var nextOp = 0, nextGap = 0
        var chain = previous
        var scratch: [UInt8] = []
        var sequence = from
        while true {
            let opHere = nextOp < ordered.count && operations[ordered[nextOp]].sequence == sequence
            let gapHere = nextGap < gapNumbers.count && gapNumbers[nextGap] == sequence
            if opHere && gapHere || opHere && nextOp + 1 < ordered.count && operations[ordered[nextOp + 1]].sequence == sequence {
                throw ProtocolError(.badSignature, "operation \(device.excerpt(70))#\(sequence) travels twice, or with a digest as well")
            }
            if opHere {
                chain = OpChain.link(chain, OpChain.digest(of: operations[ordered[nextOp]], scratch: &scratch))
                nextOp += 1
            } else if gapHere {
                chain = OpChain.link(chain, gaps[sequence]!)
                nextGap += 1
            } else {
                throw ProtocolError(.badSignature, "operation \(device.excerpt(70))#\(sequence) is missing: neither it nor its digest travels with the signed head \(name)")
            }
            if sequence == through { break }
            sequence += 1
        }
        guard chain == head else {
            throw ProtocolError(.badSignature, "the operations \(name) do not lead to the chain head \(device.excerpt(70)) signed: one of them was altered, reordered or replaced")
        }
        try verifySignature()
    }

    /// The chain value after `sequence` (in `from…through`), folded from ``previous`` over the
    /// operations that travel and the gaps; nil when a number up to it is not covered. For a segment
    /// that ``verify(carrying:)`` accepted.
    public func value(at sequence: Int64, carrying operations: [Op]) -> ChainHash? {
        guard sequence >= from, sequence <= through else { return nil }
        var digests = gaps
        for op in operations where op.device == device && op.sequence >= from && op.sequence <= sequence {
            digests[op.sequence] = OpChain.digest(of: op)
        }
        var chain = previous
        for number in from...sequence {
            guard let digest = digests[number] else { return nil }
            chain = OpChain.link(chain, digest)
        }
        return chain
    }

    /// Checks only the signature of the head with ``key``.
    public func verifySignature() throws(ProtocolError) {
        guard let publicKey = try? P256.Signing.PublicKey(derRepresentation: key) else {
            throw ProtocolError(.badSignature, "the key of the signed head of \(device.excerpt(70)) is not a P-256 public key")
        }
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
              publicKey.isValidSignature(signature, for: Self.signedBytes(device: device, through: through, head: head)) else {
            throw ProtocolError(.badSignature, "the signature of the chain head \(device.excerpt(70))#\(through) does not verify with the key \(fingerprint)")
        }
    }

    /// The enrollment proof of a device that holds the enrollment secret whose SHA-256 is
    /// `secretDigest`: HMAC-SHA-256 keyed by that digest over `"InspectorSync enrollment v1\n"`, the
    /// device id's length (4 bytes, big-endian) and bytes, and the key (19.4).
    public static func enrollmentProof(device: String, key: [UInt8], secretDigest: [UInt8]) -> [UInt8] {
        var message = Array("InspectorSync enrollment v1\n".utf8)
        message.append(contentsOf: bigEndian(UInt64(device.utf8.count), width: 4))
        message.append(contentsOf: device.utf8)
        message.append(contentsOf: key)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secretDigest)))
    }

    static func bigEndian(_ value: UInt64, width: Int) -> [UInt8] {
        (0..<width).map { UInt8(truncatingIfNeeded: value >> UInt64((width - 1 - $0) * 8)) }
    }
}

extension ChainSegment {
    /// The segment as the JSON object of a push's `head` or a bundle's `head` line (19.3).
    public func jsonValue() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("d", .string(device)), ("from", .int(from)), ("p", .string(previous.description)),
            ("s", .int(through)), ("h", .string(head.description)), ("key", .string(Base64URL.encode(key))),
            ("sig", .string(Base64URL.encode(signature))),
            ("gaps", .array(gaps.keys.sorted().map { .object([("s", .int($0)), ("o", .string(gaps[$0]!.description))]) })),
        ]
        if let enrollment { members.append(("enroll", .string(Base64URL.encode(enrollment)))) }
        return .object(members)
    }

    /// Reads the JSON object of a segment.
    ///
    /// - Throws: ``ProtocolError`` `bad_message`.
    public init(json body: Data) throws(ProtocolError) {
        let wire: ChainSegmentWire = try LineCodec.decodeBody(body, "head")
        try self.init(wire: wire)
    }

    init(wire: ChainSegmentWire) throws(ProtocolError) {
        guard let key = Base64URL.decode(wire.key), key.count <= 512 else {
            throw ProtocolError(.badMessage, "a signed head's 'key' is a public key in base64url")
        }
        guard let signature = Base64URL.decode(wire.sig), signature.count == 64 else {
            throw ProtocolError(.badMessage, "a signed head's 'sig' is 64 bytes in base64url")
        }
        var gaps: [Int64: ChainHash] = [:]
        for gap in wire.gaps ?? [] {
            guard gaps.updateValue(try ChainHash(parsing: gap.o), forKey: gap.s) == nil else {
                throw ProtocolError(.badMessage, "a signed head lists the digest of #\(gap.s) twice")
            }
        }
        var enrollment: [UInt8]?
        if let text = wire.enroll {
            guard let proof = Base64URL.decode(text), proof.count == 32 else {
                throw ProtocolError(.badMessage, "a signed head's 'enroll' is 32 bytes in base64url")
            }
            enrollment = proof
        }
        self.init(device: wire.d, from: wire.from, previous: try ChainHash(parsing: wire.p), through: wire.s,
                  head: try ChainHash(parsing: wire.h), key: key, signature: signature, gaps: gaps, enrollment: enrollment)
    }
}

struct ChainSegmentWire: Decodable {
    struct Gap: Decodable {
        var s: Int64
        var o: String
    }
    var d: String
    var from: Int64
    var p: String
    var s: Int64
    var h: String
    var key: String
    var sig: String
    var gaps: [Gap]?
    var enroll: String?
}

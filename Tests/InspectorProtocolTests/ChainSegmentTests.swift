import Crypto
import Foundation
import InspectorCore
@testable import InspectorProtocol
@testable import InspectorTestSupport
import Testing

/// Signed chain heads (PROTOCOL.md 19.2–19.4), against `Protocol/vectors/chain/heads.txt`, made with
/// Python's `cryptography` package from the spec, and against hostile values.
@Suite struct ChainSegmentTests {
    struct Case {
        var name: String
        var expectsOK: Bool
        var ops: [Op]
        var segment: ChainSegment
    }

    static func cases() throws -> [Case] {
        let text = String(decoding: try Vectors.data("chain/heads.txt"), as: UTF8.self)
        var cases: [Case] = []
        for block in text.components(separatedBy: "\n\n") {
            var name = "", expect = "", ops: [Op] = [], segment: ChainSegment?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("# (") { name = String(line.dropFirst(2).prefix(3)) }
                if line.hasPrefix("expect: ") { expect = String(line.dropFirst(8)) }
                if line.hasPrefix("op ") { ops.append(try Op(wireJSON: String(line.dropFirst(3)))) }
                if line.hasPrefix("segment ") { segment = try ChainSegment(json: Data(line.dropFirst(8).utf8)) }
            }
            if let segment { cases.append(Case(name: name, expectsOK: expect == "ok", ops: ops, segment: segment)) }
        }
        return cases
    }

    static func error(_ body: () throws -> Void) -> ProtocolError? {
        do { try body(); return nil } catch let error as ProtocolError { return error } catch { return nil }
    }

    @Test func theVectorsVerifyOrFailAsTheySay() throws {
        let cases = try Self.cases()
        #expect(cases.count == 9)
        let deviceA = KeyFingerprint(subjectPublicKeyInfo: try P256.Signing.PrivateKey(pemRepresentation:
            String(decoding: Vectors.data("keys/device-a.pem"), as: UTF8.self)).publicKey.derRepresentation)
        for item in cases {
            let error = Self.error { try item.segment.verify(carrying: item.ops) }
            if item.expectsOK {
                #expect(error == nil, "\(item.name): \(error?.message ?? "")")
                #expect(item.segment.fingerprint == deviceA, "\(item.name)")
            } else {
                #expect(error?.code == .badSignature, "\(item.name) must fail with bad_signature")
            }
        }
        // (i): the enrollment proof of dev-a's secret of keys/enrollment.txt.
        let enrolled = try #require(cases.first { $0.segment.enrollment != nil })
        let secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"
        #expect(ChainSegment.enrollmentProof(device: "dev-a", key: enrolled.segment.key, secretDigest: Array(SHA256.hash(data: Data(secret.utf8))))
                == enrolled.segment.enrollment)
        // The JSON this implementation writes reads back to the same segment.
        for item in cases {
            #expect(try ChainSegment(json: Data(item.segment.jsonValue().serialized().utf8)) == item.segment)
        }
    }

    static let ops: [Op] = (1...5).map {
        .set(device: "dev-a", sequence: $0, timestamp: HLCTimestamp(millis: 1_718_845_320_000 + $0, counter: 0, device: "dev-a"),
             unit: "muong-lay", item: "II.4", field: "status", value: "done")
    }

    @Test func aSegmentNamesWhatIsWrong() throws {
        let key = SigningKeys.key(for: "dev-a")
        let segment = try ChainSegment.make(device: "dev-a", previous: .genesis, operations: Self.ops, leavingOut: [3], signingKey: key)
        #expect(segment.gaps.keys.sorted() == [3])
        let carried = Self.ops.filter { $0.sequence != 3 }
        try segment.verify(carrying: carried)
        #expect(Self.error { try segment.verify(carrying: Self.ops) }?.message.contains("dropped or added") == true)
        #expect(Self.error { try segment.verify(carrying: carried.filter { $0.sequence != 4 }) }?.message.contains("dropped") == true)
        var altered = carried
        altered[0].value = "in_progress"
        #expect(Self.error { try segment.verify(carrying: altered) }?.message.contains("do not lead to the chain head") == true)
        var stray = carried
        stray[0].sequence = 9
        #expect(Self.error { try segment.verify(carrying: stray) }?.message.contains("dev-a#9 is not covered") == true)
        var foreign = carried
        foreign[0].device = "dev-b"
        #expect(Self.error { try segment.verify(carrying: foreign) }?.message.contains("another device") == true)
        #expect(throws: ProtocolError.self) {
            try ChainSegment.make(device: "dev-a", previous: .genesis, operations: [Self.ops[0], Self.ops[2]], leavingOut: [], signingKey: key)
        }
    }

    /// Numbers at Int64's edges, huge claimed ranges and lies about sizes: refused, never a trap or
    /// a loop over the claimed range.
    @Test(arguments: [(Int64(0), Int64(0)), (1, 0), (-5, 3), (1, .max), (.min, .max), (.max, .max), (.max - 1, .max), (2, 1)])
    func hostileRangesAreRefused(from: Int64, through: Int64) throws {
        var segment = try ChainSegment.make(device: "dev-a", previous: .genesis, operations: [Self.ops[0]], leavingOut: [], signingKey: SigningKeys.key(for: "dev-a"))
        segment.from = from
        segment.through = through
        let error = Self.error { try segment.verify(carrying: [Self.ops[0]]) }
        #expect(error?.code == .badSignature, "from \(from) through \(through)")
    }

    @Test func malformedSegmentsAreBadMessages() {
        let good = try! ChainSegment.make(device: "dev-a", previous: .genesis, operations: [Self.ops[0]], leavingOut: [],
                                           signingKey: SigningKeys.key(for: "dev-a")).jsonValue().serialized()
        let mutations: [(String, String)] = [
            ("\"p\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "\"p\":\"AAAA\""),
            ("\"p\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "\"p\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""),
            ("\"p\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "\"p\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB\""),
            ("\"gaps\":[]", "\"gaps\":[{\"s\":1,\"o\":\"x\"}]"),
            ("\"gaps\":[]", "\"gaps\":[{\"s\":1,\"o\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},{\"s\":1,\"o\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]"),
            ("\"from\":1", "\"from\":\"1\""),
            ("\"gaps\":[]", "\"gaps\":[],\"enroll\":\"AAAA\""),
        ]
        for (old, new) in mutations {
            let text = good.replacingOccurrences(of: old, with: new)
            #expect(text != good)
            #expect(Self.error { _ = try ChainSegment(json: Data(text.utf8)) }?.code == .badMessage, "\(new)")
        }
        let shortSignature = good.replacingOccurrences(of: #"\"sig\":\"[^\"]*\""#, with: "\"sig\":\"AAAA\"", options: .regularExpression)
        #expect(Self.error { _ = try ChainSegment(json: Data(shortSignature.utf8)) }?.code == .badMessage)
        var notAKey = try! ChainSegment(json: Data(good.utf8))
        notAKey.key = Array("not a key".utf8)
        #expect(Self.error { try notAKey.verify(carrying: [Self.ops[0]]) }?.message.contains("not a P-256 public key") == true)
    }
}

import Foundation
import InspectorCore
@testable import InspectorProtocol
@testable import InspectorTestSupport
import Testing

/// The operation chain (PROTOCOL.md 19.1), against `Protocol/vectors/chain/ops.txt`, which Python's
/// `cryptography` package computed from the spec, not from this code.
@Suite struct OpChainTests {
    struct Record {
        var op: Op
        var bytes: String
        var digest: String
        var chain: String
    }

    static func records() throws -> [Record] {
        let text = String(decoding: try Vectors.data("chain/ops.txt"), as: UTF8.self)
        var records: [Record] = []
        for block in text.components(separatedBy: "\n\n") {
            var fields: [String: String] = [:]
            for line in block.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            guard let json = fields["op"] else { continue }
            records.append(Record(op: try Op(wireJSON: json), bytes: fields["bytes"]!, digest: fields["digest"]!, chain: fields["chain"]!))
        }
        return records
    }

    @Test func theVectorsCanonicalBytesDigestsAndChainValues() throws {
        let records = try Self.records()
        #expect(records.count == 6)
        var chain = ChainHash.genesis
        for record in records {
            let hex = OpChain.canonicalBytes(of: record.op).map { String(format: "%02x", $0) }.joined()
            #expect(hex == record.bytes, "canonical bytes of #\(record.op.sequence)")
            #expect(OpChain.digest(of: record.op).description == record.digest, "digest of #\(record.op.sequence)")
            chain = OpChain.link(chain, OpChain.digest(of: record.op))
            #expect(chain.description == record.chain, "chain value at #\(record.op.sequence)")
        }
    }

    /// Every part of an op changes its digest: nothing can be altered under the same chain.
    @Test func everyPartOfAnOpChangesItsDigest() throws {
        let op = try Self.records()[2].op
        var variants: [Op] = []
        var copy = op; copy.device = "dev-b"; variants.append(copy)
        copy = op; copy.sequence += 1; variants.append(copy)
        copy = op; copy.timestamp.millis += 1; variants.append(copy)
        copy = op; copy.timestamp.counter += 1; variants.append(copy)
        copy = op; copy.kind = .set; variants.append(copy)
        copy = op; copy.unit = "muong-ang"; variants.append(copy)
        copy = op; copy.item = nil; variants.append(copy)
        copy = op; copy.field = "status"; variants.append(copy)
        copy = op; copy.finding = "dev-a/4"; variants.append(copy)
        copy = op; copy.findingKind = .observation; variants.append(copy)
        copy = op; copy.value += "."; variants.append(copy)
        // Moving bytes between two strings keeps their concatenation but not the lengths.
        copy = op; copy.unit = "muong-la"; copy.item = "yII.5"; variants.append(copy)
        let digests = Set(([op] + variants).map { OpChain.digest(of: $0) })
        #expect(digests.count == variants.count + 1)
    }

    /// Values no valid op holds (a peer's lie) still hash, without trapping.
    @Test func boundaryValuesHashWithoutTrapping() {
        let op = Op(device: "", sequence: .min, timestamp: HLCTimestamp(millis: .min, counter: .max, device: ""), kind: .set,
                    unit: "", item: "", field: "", finding: "", findingKind: .shortcoming, value: String(repeating: "ệ", count: 10_000))
        #expect(OpChain.canonicalBytes(of: op).count == 5 + 8 + 8 + 2 + (5 + 3) + 5 * 4 + (5 + 11) + (5 + 30_000))
        #expect(OpChain.digest(of: op) != OpChain.digest(of: Op(device: "", sequence: .max, timestamp: op.timestamp, kind: .set, unit: "", value: "x")))
    }
}

import Crypto
import Foundation
import InspectorCore
import InspectorProtocol
import InspectorTestSupport
import Testing

@Suite struct BundleFileTests {
    static let bundle = SigningKeys.bundle(plan: "kh-1181-2024", device: "dev-a", from: 3, through: 10, ops: Array(sampleOps.prefix(4)))

    static func decodeError(_ data: Data, sourceLocation: SourceLocation = #_sourceLocation) -> ProtocolError? {
        protocolError({ _ = try BundleFile.decode(data) }, sourceLocation: sourceLocation)
    }

    /// The bundle's lines, each without its newline.
    static func lines(_ data: Data) -> [String] {
        String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// Rebuilds a bundle from lines (the trailer excluded) with a correct trailer: damage that the
    /// digest would catch anyway is then caught by the line check it is meant to test.
    static func signed(_ bodyLines: [String], count: Int? = nil) -> Data {
        let body = Data(bodyLines.map { $0 + "\n" }.joined().utf8)
        let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        let ops = bodyLines.filter { $0.hasPrefix("op ") }.count
        return body + Data("end {\"count\":\(count ?? ops),\"sha256\":\"\(digest)\"}\n".utf8)
    }

    @Test func roundTrip() throws {
        let data = Self.bundle.encoded()
        #expect(try BundleFile.decode(data) == Self.bundle)
        let all = SigningKeys.bundle(plan: "kh-1181-2024", device: "tablet.2", from: 0, through: 99, ops: sampleOps)
        #expect(try BundleFile.decode(all.encoded()) == all)
    }

    @Test func emptyBundleRoundTrips() throws {
        let empty = BundleFile(plan: "kh-1181-2024", device: "dev-a", from: 5, through: 5, ops: [], heads: [])
        let data = empty.encoded()
        #expect(Self.lines(data).count == 2)
        #expect(try BundleFile.decode(data) == empty)
    }

    @Test func layout() {
        let lines = Self.lines(Self.bundle.encoded())
        #expect(lines.count == 7)
        #expect(lines[0] == "bundle {\"version\":2,\"plan\":\"kh-1181-2024\",\"device\":\"dev-a\",\"from\":3,\"through\":10}")
        #expect(lines[1] == "op " + sampleOps[0].wireJSON())
        #expect(lines[5] == "head " + Self.bundle.heads[0].jsonValue().serialized())
        #expect(lines[6].hasPrefix("end {\"count\":4,\"sha256\":\""))
        let body = Data(lines[0...5].map { $0 + "\n" }.joined().utf8)
        let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        #expect(lines[6] == "end {\"count\":4,\"sha256\":\"\(digest)\"}")
    }

    @Test func crlfConvertedBundleIsRefused() throws {
        // Written on one machine, carried through an editor that added CRs: the digest no longer matches.
        let crlf = Data(String(decoding: Self.bundle.encoded(), as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8)
        #expect(Self.decodeError(crlf)?.code == .badBundle)
    }

    /// A bundle cut at any byte, including exactly between two lines, imports nothing.
    @Test func cutAtEveryOffsetIsRefused() {
        let data = Self.bundle.encoded()
        var boundaries = 0
        for length in 0..<data.count {
            let cut = data.prefix(length)
            let error = Self.decodeError(cut)
            #expect(error?.code == .badBundle, "cut at \(length) of \(data.count)")
            #expect(error?.message.contains("line") == true, "cut at \(length): \(error?.message ?? "")")
            #expect(error?.message.contains("nothing was imported") == true, "cut at \(length): \(error?.message ?? "")")
            if length > 0 && data[data.startIndex + length - 1] == UInt8(ascii: "\n") {
                boundaries += 1
                #expect(error?.message.contains("cut") == true, "cut after a whole line at \(length): \(error?.message ?? "")")
            }
        }
        #expect(boundaries == 6)
    }

    @Test func cutBetweenLinesNamesTheLastLine() {
        let lines = Self.lines(Self.bundle.encoded())
        let cut = Data(lines.prefix(3).map { $0 + "\n" }.joined().utf8)
        let error = Self.decodeError(cut)
        #expect(error?.code == .badBundle)
        #expect(error?.message.contains("after line 3") == true, "\(error?.message ?? "")")
    }

    /// Any single flipped byte is detected.
    @Test(arguments: [UInt8(0x01), 0x20, 0x80])
    func flippedByteIsRefused(mask: UInt8) {
        let data = Self.bundle.encoded()
        for offset in 0..<data.count {
            var damaged = data
            damaged[damaged.startIndex + offset] ^= mask
            let error = Self.decodeError(damaged)
            #expect(error?.code == .badBundle, "byte \(offset) ^ \(mask)")
        }
    }

    @Test func alteredOpLineIsCaughtByTheDigestAndNamesTheTrailer() throws {
        var data = Self.bundle.encoded()
        // "done" → "dome": still a well-formed operation.
        let range = try #require(data.range(of: Data("\"done\"".utf8)))
        data[range.lowerBound + 3] = UInt8(ascii: "m")
        let error = Self.decodeError(data)
        #expect(error?.code == .badBundle)
        #expect(error?.message.contains("bundle line 7") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("digest") == true)
    }

    @Test func wrongCountIsRefused() {
        for count in [3, 5, 0, 400] {
            var text = String(decoding: Self.bundle.encoded(), as: UTF8.self)
            text = text.replacingOccurrences(of: "\"count\":4", with: "\"count\":\(count)")
            let error = Self.decodeError(Data(text.utf8))
            #expect(error?.code == .badBundle)
            #expect(error?.message.contains("bundle line 7") == true)
            #expect(error?.message.contains("counts \(count) operations but the bundle holds 4") == true, "\(error?.message ?? "")")
        }
    }

    @Test func badOpLineIsNamed() {
        var lines = Self.lines(Self.bundle.encoded()).dropLast().map { $0 }
        lines[2] = "op {\"d\":\"dev-a\",\"s\":2"
        let truncated = Self.decodeError(Self.signed(lines))
        #expect(truncated?.code == .badBundle)
        #expect(truncated?.message.contains("bundle line 3") == true, "\(truncated?.message ?? "")")

        lines[2] = "op " + Op(device: "dev-a", sequence: 0, timestamp: ts(1, 0, "dev-a"), kind: .set, unit: "muong-lay",
                              item: "I.1", field: "note", value: "x").wireJSON()
        let shape = Self.decodeError(Self.signed(lines))
        #expect(shape?.code == .badBundle)
        #expect(shape?.message.contains("bundle line 3") == true)
        #expect(shape?.message.contains("sequence") == true)

        lines[2] = "push {}"
        let verb = Self.decodeError(Self.signed(lines))
        #expect(verb?.message.contains("bundle line 3: expected an 'op' or 'head' line") == true, "\(verb?.message ?? "")")

        lines[2] = "op {\"d\":\"dev-a\",\"s\":2,\"t\":0,\"c\":0,\"k\":\"merge\",\"u\":\"x\",\"v\":\"y\"}"
        let kind = Self.decodeError(Self.signed(lines))
        #expect(kind?.message.contains("bundle line 3") == true)
        #expect(kind?.message.contains("unknown kind") == true)
    }

    @Test func badHeaderIsNamed() {
        var lines = Self.lines(Self.bundle.encoded()).dropLast().map { $0 }
        lines[0] = "bundle {\"version\":3,\"plan\":\"kh-1181-2024\",\"device\":\"dev-a\",\"from\":0,\"through\":1}"
        let version = Self.decodeError(Self.signed(lines))
        #expect(version?.message.contains("bundle line 1") == true)
        #expect(version?.message.contains("version 3") == true)

        lines[0] = "bundle {\"version\":1,\"plan\":\"kh-1181-2024\",\"device\":\"dev-a\",\"from\":0,\"through\":1}"
        let unsigned = Self.decodeError(Self.signed(lines))
        #expect(unsigned?.message.contains("version 1 carries no signatures") == true, "\(unsigned?.message ?? "")")

        lines[0] = "op {}"
        #expect(Self.decodeError(Self.signed(lines))?.message == "bundle line 1: a bundle starts with a 'bundle' line; nothing was imported")

        lines[0] = "bundle {\"version\":\"1\"}"
        #expect(Self.decodeError(Self.signed(lines))?.message == "bundle line 1: the header cannot be read (bundle: wrong type at 'version'); nothing was imported")

        lines[0] = "bundle {\"version\":1,\"plan\":\"kh-1181-2024\"}"
        let missing = Self.decodeError(Self.signed(lines))
        #expect(missing?.code == .badBundle)
        #expect(missing?.message.contains("bundle line 1") == true)
    }

    @Test func textAfterTheTrailerIsRefused() {
        var data = Self.bundle.encoded()
        data.append(contentsOf: Array(("op " + sampleOps[4].wireJSON() + "\n").utf8))
        #expect(Self.decodeError(data)?.code == .badBundle)
        var blank = Self.bundle.encoded()
        blank.append(UInt8(ascii: "\n"))
        #expect(Self.decodeError(blank)?.code == .badBundle)
    }

    @Test func emptyInputIsRefused() {
        let error = Self.decodeError(Data())
        #expect(error?.code == .badBundle)
        #expect(error?.code.rawValue == "bad_bundle")
    }

    // MARK: Signed heads (PROTOCOL.md 17, 19)

    /// An op changed and the trailer recomputed, as anyone can: the author's signed head catches it.
    @Test func alteredOpWithARecomputedTrailerIsRefusedByItsSignature() throws {
        var lines = Self.lines(Self.bundle.encoded()).dropLast().map { $0 }
        lines[1] = lines[1].replacingOccurrences(of: "\"done\"", with: "\"dome\"")
        let error = Self.decodeError(Self.signed(lines))
        #expect(error?.code == .badSignature)
        #expect(error?.message.contains("dev-a#1–#4") == true, "\(error?.message ?? "")")
    }

    @Test func droppedOrReorderedOpsAreRefused() throws {
        var lines = Self.lines(Self.bundle.encoded()).dropLast().map { $0 }
        lines.remove(at: 2)
        let dropped = Self.decodeError(Self.signed(lines))
        #expect(dropped?.code == .badSignature)
        #expect(dropped?.message.contains("dev-a#2 is missing") == true, "\(dropped?.message ?? "")")

        // Two ops swap their contents but keep their numbers: the chain no longer leads to the head.
        var swapped = Self.bundle
        (swapped.ops[0].value, swapped.ops[1].value) = ("12.5", "done")
        let error = Self.decodeError(Self.signed(Self.lines(swapped.encoded()).dropLast().map { $0 }))
        #expect(error?.code == .badSignature)
    }

    @Test func anOpWithoutItsAuthorsHeadIsRefused() throws {
        var forged = Self.bundle
        forged.ops.append(.set(device: "dev-b", sequence: 1, timestamp: ts(1_718_845_323_456, 0, "dev-b"), unit: "muong-lay", item: "II.4",
                               field: "status", value: "done"))
        let error = Self.decodeError(forged.encoded())
        #expect(error?.code == .badBundle)
        #expect(error?.message.contains("dev-b#1 has no signed head") == true, "\(error?.message ?? "")")

        var headless = Self.bundle
        headless.heads.append(contentsOf: SigningKeys.heads(for: [.set(device: "dev-c", sequence: 1, timestamp: ts(1, 0, "dev-c"),
                                                                      unit: "muong-lay", item: "II.4", field: "status", value: "done")]))
        let stray = Self.decodeError(headless.encoded())
        #expect(stray?.code == .badBundle)
        #expect(stray?.message.contains("whose ops the bundle does not carry") == true, "\(stray?.message ?? "")")

        var twice = Self.bundle
        twice.heads.append(twice.heads[0])
        #expect(Self.decodeError(twice.encoded())?.message.contains("a second signed head") == true)
    }

    /// A head signed with another key than the one it carries.
    @Test func aSignatureByAnotherKeyIsRefused() throws {
        var forged = Self.bundle
        forged.heads[0].key = Array(SigningKeys.key(for: "dev-b").publicKey.derRepresentation)
        let error = Self.decodeError(forged.encoded())
        #expect(error?.code == .badSignature)
        #expect(error?.message.contains("does not verify with the key") == true, "\(error?.message ?? "")")
    }

    // MARK: - Files (PROTOCOL.md 17.6)

    /// A bundle of dev-a: a finding and a 600,000-byte photo attached to it, with the photo's bytes.
    static func bundleWithFile() throws -> (bundle: BundleFile, bytes: [UInt8]) {
        var bytes = (0..<600_000).map { UInt8(($0 * 31 + 7) % 251) }
        bytes[0] = 0xFF; bytes[1] = 0xD8; bytes[2] = 0xFF
        let hash = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        let t = HLCTimestamp(millis: 1_718_845_320_000, counter: 0, device: "dev-a")
        let finding = Op.findingAdd(device: "dev-a", sequence: 1, timestamp: t, unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "Thiếu biên bản")
        let attach = Op.attachmentAdd(device: "dev-a", sequence: 2, timestamp: HLCTimestamp(millis: t.millis + 1, counter: 0, device: "dev-a"),
                                      unit: "muong-lay", item: "II.4", finding: "dev-a/1",
                                      descriptor: try AttachmentDescriptor(hash: hash, size: 600_000, type: .jpeg, name: "ảnh hiện trường.jpg"))
        var bundle = SigningKeys.bundle(plan: "kh-1181-2024", device: "dev-a", ops: [finding, attach])
        bundle.files = [hash: bytes]
        return (bundle, bytes)
    }

    @Test func filesTravelInChunkLinesAfterTheHeadsAndRoundTrip() throws {
        let (bundle, _) = try Self.bundleWithFile()
        let data = bundle.encoded()
        let lines = Self.lines(data)
        #expect(lines.map { String($0.prefix { $0 != " " }) } == ["bundle", "op", "op", "head", "file", "file", "file", "end"])
        #expect(try BundleFile.decode(data) == bundle)
    }

    @Test func aFileThatIsNotItsHashOrNotAttachedIsRefusedEvenWithARecomputedTrailer() throws {
        let (bundle, bytes) = try Self.bundleWithFile()
        let lines = Self.lines(bundle.encoded()).dropLast()
        // One byte of the file changed, in its chunk line, and the trailer recomputed.
        var altered = bytes
        altered[300_000] ^= 1
        var forged = bundle
        forged.files = [bundle.files.keys.first!: altered]
        let forgedLines = Self.lines(forged.encoded()).dropLast()
        let error = Self.decodeError(Self.signed(Array(forgedLines)))
        #expect(error?.code == .badBundle && error?.message.contains("it was altered") == true, "\(String(describing: error))")
        // A file no op names.
        var stray = bundle
        stray.files[String(repeating: "ab", count: 32)] = [0xFF, 0xD8, 0xFF]
        #expect(Self.decodeError(stray.encoded())?.message.contains("attached by no operation") == true)
        // A chunk dropped from the middle.
        let missing = Array(lines.enumerated().filter { $0.offset != 5 }.map(\.element))
        #expect(Self.decodeError(Self.signed(missing))?.message.contains("but the next byte is") == true)
        // A file cut short: its last chunk dropped.
        let short = Array(lines.dropLast())
        #expect(Self.decodeError(Self.signed(short))?.message.contains("not the 600000 its operation says") == true)
        // A head after a file line.
        var misplaced = Array(lines)
        misplaced.swapAt(3, 4)
        #expect(Self.decodeError(Self.signed(misplaced))?.code == .badBundle)
    }
}

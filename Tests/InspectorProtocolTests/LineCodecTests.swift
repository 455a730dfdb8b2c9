import Foundation
import InspectorCore
import InspectorProtocol
@testable import InspectorTestSupport
import Testing

@Suite struct LineCodecTests {
    static let messages: [(String, Message)] = [
        ("hello", .hello(.init(device: "dev-a", token: "s3cr3t-token", time: 1_718_845_323_456, planDigest: "abc123"))),
        ("hello without digest", .hello(.init(version: 1, device: "dev-a", token: "t", time: 0, planDigest: nil))),
        ("welcome", .welcome(.init(time: 1_718_845_323_999, confirmed: 12, scope: ["muong-lay", "phuong-na-lay"],
                                   units: smallPlan.units, planDigest: "abc123", plan: nil))),
        ("welcome with plan", .welcome(.init(time: 5, confirmed: 0, scope: [], units: [], planDigest: "d", plan: smallPlan))),
        ("push", .push(.init(ops: sampleOps, withdrawn: [3, 9]))),
        ("empty push", .push(.init(ops: []))),
        ("pushed", .pushed(.init(confirmed: 7, applied: 5, duplicates: 2))),
        ("pull", .pull(.init(cursor: 0))),
        ("pull with limit", .pull(.init(cursor: 1_234, limit: 500))),
        ("ops", .ops(.init(ops: sampleOps, cursor: 99, more: true))),
        ("empty ops", .ops(.init(ops: [], cursor: 0, more: false))),
        ("bye", .bye),
        ("error", .error(ProtocolError(.invalidOp, "operation dev-a#4: value of 'fund_percent' is not in canonical form", sequence: 4))),
        ("error without seq", .error(ProtocolError(.unauthorized, "the token is not valid for 'dev-a'"))),
    ]

    @Test(arguments: 0..<messages.count)
    func roundTrip(index: Int) throws {
        let (name, message) = Self.messages[index]
        let line = LineCodec.encode(message)
        #expect(line.last == UInt8(ascii: "\n"), "\(name)")
        #expect(line.filter { $0 == UInt8(ascii: "\n") }.count == 1, "\(name): one line, one newline")
        #expect(Array(LineCodec.encodeString(message).utf8) == line)
        let decoded = try LineCodec.decode(line.dropLast())
        #expect(decoded == message, "\(name)")
        // The verb starts the line.
        #expect(line.starts(with: Array((message.verb + " ").utf8)))
    }

    @Test func everyVerbIsCovered() {
        #expect(Set(Self.messages.map(\.1.verb)) == ["hello", "welcome", "push", "pushed", "pull", "ops", "bye", "error"])
    }

    @Test func exactEncodings() {
        #expect(LineCodec.encodeString(.pull(.init(cursor: 0))) == "pull {\"cursor\":0}\n")
        #expect(LineCodec.encodeString(.pull(.init(cursor: 3, limit: 10))) == "pull {\"cursor\":3,\"limit\":10}\n")
        #expect(LineCodec.encodeString(.bye) == "bye {}\n")
        #expect(LineCodec.encodeString(.pushed(.init(confirmed: 7, applied: 5, duplicates: 2)))
                == "pushed {\"confirmed\":7,\"applied\":5,\"duplicates\":2}\n")
        #expect(sampleOps[0].wireJSON() == "{\"d\":\"dev-a\",\"s\":1,\"t\":1718845323456,\"c\":0,\"k\":\"set\",\"u\":\"muong-lay\",\"i\":\"II.4\",\"f\":\"status\",\"v\":\"done\"}")
        #expect(sampleOps[4].wireJSON() == "{\"d\":\"dev-a\",\"s\":5,\"t\":1718845325001,\"c\":0,\"k\":\"finding_add\",\"u\":\"muong-ang\",\"n\":\"dev-a/5\",\"fk\":\"recommendation\",\"v\":\"Kiến nghị\"}")
    }

    @Test func vietnameseTravelsAsUTF8() {
        let line = LineCodec.encodeString(.push(.init(ops: [sampleOps[3]])))
        #expect(line.contains("Mô hình hay 🇻🇳"))
        #expect(!line.contains("\\u"))
    }

    static func decodeError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> ProtocolError? {
        protocolError({ _ = try LineCodec.decode(bytes) }, sourceLocation: sourceLocation)
    }
    static func decodeError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ProtocolError? {
        decodeError(Array(text.utf8), sourceLocation: sourceLocation)
    }

    @Test func notUTF8IsABadLine() {
        let error = Self.decodeError(Array("error {\"code\":\"x\",\"message\":\"".utf8) + [0xC3, 0x28] + Array("\"}".utf8))
        #expect(error?.code == .badLine)
        #expect(error?.message.contains("UTF-8") == true)
        #expect(Self.decodeError([0x62, 0x79, 0x65, 0x20, 0xFF])?.code == .badLine)
    }

    @Test(arguments: ["bye{}", "bye", "", " bye {}", "{\"cursor\":0}"])
    func lineWithoutVerbAndSpaceIsABadLine(text: String) {
        #expect(Self.decodeError(text)?.code == .badLine)
    }

    @Test(arguments: ["PULL {\"cursor\":0}", "Pull {\"cursor\":0}", "pull2 {\"cursor\":0}", "pu-ll {}", "pülł {}"])
    func verbMustBeLowercaseLetters(text: String) {
        let error = Self.decodeError(text)
        #expect(error?.code == .badLine)
        #expect(error?.message.contains("lowercase") == true)
    }

    @Test(arguments: ["fetch_all {}", "hello_world {}", "ping {\"time\":1}"])
    func unknownVerb(text: String) {
        let error = Self.decodeError(text)
        #expect(error?.code == .unknownVerb)
        #expect(error?.message.contains(String(text.prefix { $0 != " " })) == true)
    }

    @Test(arguments: ["pull {\"cursor\":", "pull {", "pull ", "bye {}}", "pull {\"cursor\":0", "pull cursor=0", "push {\"ops\":[{\"d\":\"dev-a\""])
    func truncatedOrInvalidJSONIsABadLine(text: String) {
        let error = Self.decodeError(text)
        #expect(error?.code == .badLine)
        #expect(error?.message.contains("not a JSON object") == true)
    }

    @Test(arguments: [
        ("pull {\"cursor\":\"0\"}", "'cursor'"),
        ("pushed {\"confirmed\":1,\"applied\":true,\"duplicates\":0}", "'applied'"),
        ("ops {\"ops\":{},\"cursor\":0,\"more\":false}", "'ops'"),
        ("ops {\"ops\":[],\"cursor\":0,\"more\":\"no\"}", "'more'"),
        ("hello {\"version\":1,\"device\":\"dev-a\",\"token\":7,\"time\":0}", "'token'"),
        ("push {\"ops\":[{\"d\":\"dev-a\",\"s\":\"1\",\"t\":0,\"c\":0,\"k\":\"set\",\"u\":\"x\",\"v\":\"y\"}]}", "'ops.0.s'"),
    ])
    func wrongTypesAreABadMessage(text: String, key: String) {
        let error = Self.decodeError(text)
        #expect(error?.code == .badMessage)
        #expect(error?.message.contains(key) == true, "\(error?.message ?? "")")
    }

    /// Readable JSON whose number does not fit the key's integer type is a wrong type, not an unreadable line.
    @Test(arguments: ["pull {\"cursor\":1.5}", "pull {\"cursor\":99999999999999999999}", "pushed {\"confirmed\":1,\"applied\":-0.5,\"duplicates\":0}"])
    func numbersOfTheWrongKindAreABadMessage(text: String) {
        #expect(Self.decodeError(text)?.code == .badMessage)
    }

    @Test(arguments: [("pull {}", "cursor"), ("hello {\"version\":1,\"device\":\"dev-a\",\"time\":0}", "token"),
                      ("error {\"code\":\"x\"}", "message"), ("push {}", "ops")])
    func missingKeysAreABadMessageNamingTheKey(text: String, key: String) {
        let error = Self.decodeError(text)
        #expect(error?.code == .badMessage)
        #expect(error?.message.contains("missing key '\(key)'") == true, "\(error?.message ?? "")")
    }

    @Test func nulBytesAreRefused() {
        #expect(Self.decodeError(Array("pull {\"cursor\":0}".utf8) + [0])?.code == .badLine)
        #expect(Self.decodeError(Array("pu".utf8) + [0] + Array("ll {\"cursor\":0}".utf8))?.code == .badLine)
        #expect(Self.decodeError([0] + Array("pull {\"cursor\":0}".utf8))?.code == .badLine)
    }

    @Test func crlfIsTolerated() throws {
        #expect(try LineCodec.decode(Array("pull {\"cursor\":5}\r".utf8)) == .pull(.init(cursor: 5)))
        var line = LineCodec.encode(.push(.init(ops: sampleOps)))
        line.removeLast()
        line.append(UInt8(ascii: "\r"))
        #expect(try LineCodec.decode(line) == .push(.init(ops: sampleOps)))
    }

    @Test func opWithUnknownKindIsRefusedWithItsSequence() {
        let text = "push {\"ops\":[{\"d\":\"dev-a\",\"s\":4,\"t\":0,\"c\":0,\"k\":\"delete\",\"u\":\"muong-lay\",\"v\":\"x\"}]}"
        let error = Self.decodeError(text)
        #expect(error?.code == .badMessage)
        #expect(error?.sequence == 4)
        #expect(error?.message.contains("unknown kind 'delete'") == true)
    }

    @Test func opWithUnknownFindingKindIsRefusedInAPush() {
        let text = "push {\"ops\":[{\"d\":\"dev-a\",\"s\":2,\"t\":0,\"c\":0,\"k\":\"finding_add\",\"u\":\"muong-lay\",\"n\":\"dev-a/2\",\"fk\":\"praise\",\"v\":\"x\"}]}"
        let error = Self.decodeError(text)
        #expect(error?.code == .badMessage)
        #expect(error?.sequence == 2)
    }

    /// A pulled batch is read op by op: one that does not read is set apart with why (the device holds
    /// it back, PROTOCOL.md 11.5) and the others are kept; the batch writes it back as it was.
    @Test func unreadableOpOfAPulledBatchIsSetApart() throws {
        let good = #"{"d":"dev-a","s":1,"t":0,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done"}"#
        let bad = #"{"d":"dev-a","s":2,"t":0,"c":0,"k":"finding_add","u":"muong-lay","n":"dev-a/2","fk":"praise","v":"x"}"#
        let extra = #"{"d":"dev-a","s":3,"t":0,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"rating","v":"tot","x":1}"#
        let message = try LineCodec.decode(Array("ops {\"ops\":[\(good),\(bad),\(extra),7],\"cursor\":3,\"more\":false}".utf8))
        guard case .ops(let batch) = message else { Issue.record("\(message)"); return }
        #expect(batch.ops.map(\.sequence) == [1])
        #expect(batch.unreadable.map(\.sequence) == [2, 3, nil])
        #expect(batch.unreadable.map(\.error.code) == [.badMessage, .badMessage, .badMessage])
        #expect(batch.unreadable[1].error.message.contains("unknown key 'x'"))
        #expect(try LineCodec.decode(LineCodec.encode(message).dropLast()) == message)
        // Equal unreadable elements, and no readable op: each written back once (fuzz case 14085).
        let twice = try LineCodec.decode(Array(#"ops {"ops":[[1e2],[1e2]],"cursor":1,"more":true}"#.utf8))
        #expect(try LineCodec.decode(LineCodec.encode(twice).dropLast()) == twice)
    }

    @Test func opWithAnUnknownKeyIsRefused() {
        let text = #"push {"ops":[{"d":"dev-a","s":5,"t":0,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done","z":"?"}]}"#
        let error = Self.decodeError(text)
        #expect(error?.code == .badMessage)
        #expect(error?.sequence == 5)
        #expect(error?.message.contains("unknown key 'z'") == true)
    }

    @Test func opWithABadShapeIsAnInvalidOp() {
        // A finding_add whose id is not device/sequence.
        let text = "push {\"ops\":[{\"d\":\"dev-a\",\"s\":2,\"t\":0,\"c\":0,\"k\":\"finding_add\",\"u\":\"muong-lay\",\"n\":\"dev-b/2\",\"fk\":\"observation\",\"v\":\"x\"}]}"
        let error = Self.decodeError(text)
        #expect(error?.code == .invalidOp)
        #expect(error?.sequence == 2)
        #expect(error?.message.contains("device/sequence") == true)
        // Text not in NFC is refused on the wire too.
        let decomposed = "push {\"ops\":[{\"d\":\"dev-a\",\"s\":3,\"t\":0,\"c\":0,\"k\":\"set\",\"u\":\"muong-lay\",\"i\":\"I.1\",\"f\":\"note\",\"v\":\"Mu\u{031B}o\u{031B}\u{0300}ng\"}]}"
        #expect(Self.decodeError(decomposed)?.code == .invalidOp)
    }

    @Test func welcomeWithAMalformedPlanIsABadMessage() {
        let text = "welcome {\"version\":1,\"time\":0,\"confirmed\":0,\"scope\":[],\"units\":[],\"plan_digest\":\"d\",\"plan\":{\"format\":\"x\"}}"
        let error = Self.decodeError(text)
        #expect(error?.code == .badMessage)
        #expect(error?.message.hasPrefix("welcome:") == true)
    }

    @Test func unknownKeysAreIgnored() throws {
        #expect(try LineCodec.decode(Array("pull {\"cursor\":1,\"future\":true}".utf8)) == .pull(.init(cursor: 1)))
    }

    @Test func splitSeparatesVerbAndBody() throws {
        let (verb, body) = try LineCodec.split(Array("ops {\"a\": 1}\r".utf8))
        #expect(verb == "ops")
        #expect(body == Data("{\"a\": 1}".utf8))
    }

    // MARK: - Attachments (PROTOCOL.md 4.9–4.13, 20)

    static let fileHash = String(repeating: "c0ffee", count: 10) + "c0ff"

    @Test func fileMessagesRoundTrip() throws {
        let messages: [Message] = [
            .offer(.init(hash: Self.fileHash, size: 20 << 20)),
            .want(.init(hash: Self.fileHash, have: 0)),
            .chunk(.init(hash: Self.fileHash, offset: 262_144, data: Array(0...255) + [0xFF, 0xFE])),
            .stored(.init(hash: Self.fileHash, have: 262_402)),
            .fetch(.init(hash: Self.fileHash, offset: 7)),
            .fetch(.init(hash: Self.fileHash, offset: 0, chunkBytes: 65_536)),
        ]
        for message in messages {
            let line = LineCodec.encode(message)
            #expect(line.last == 0x0A)
            #expect(try LineCodec.decode(line.dropLast()) == message, "\(message.verb)")
        }
        #expect(LineCodec.encodeString(.offer(.init(hash: Self.fileHash, size: 5))) == "offer {\"h\":\"\(Self.fileHash)\",\"size\":5}\n")
    }

    @Test func theTransferVectorsLinesAreWhatTheCodecWrites() throws {
        struct Transfer: Decodable {
            struct Chunk: Decodable { var o: Int64; var n: Int; var sha256: String; var line_prefix: String; var data_head: String; var line_bytes: Int }
            var size: Int64; var sha256: String; var chunk_bytes: Int; var chunks: [Chunk]
            var offer_line: String; var want_line_fresh: String; var want_line_after_cut: String; var stored_line_final: String
        }
        let transfer = try JSONDecoder().decode(Transfer.self, from: Vectors.data("attachments/transfer.json"))
        // The file, by the vector's rule.
        var file = (0..<Int(transfer.size)).map { UInt8(($0 * 31 + 7) % 251) }
        file[0] = 0xFF; file[1] = 0xD8; file[2] = 0xFF
        #expect(transfer.chunk_bytes == Message.Chunk.maximumBytes)
        #expect(LineCodec.encodeString(.offer(.init(hash: transfer.sha256, size: transfer.size))) == transfer.offer_line + "\n")
        #expect(LineCodec.encodeString(.want(.init(hash: transfer.sha256, have: 0))) == transfer.want_line_fresh + "\n")
        #expect(LineCodec.encodeString(.want(.init(hash: transfer.sha256, have: Int64(transfer.chunk_bytes)))) == transfer.want_line_after_cut + "\n")
        #expect(LineCodec.encodeString(.stored(.init(hash: transfer.sha256, have: transfer.size))) == transfer.stored_line_final + "\n")
        for chunk in transfer.chunks {
            let data = Array(file[Int(chunk.o)..<Int(chunk.o) + chunk.n])
            let line = LineCodec.encodeString(.chunk(.init(hash: transfer.sha256, offset: chunk.o, data: data)))
            #expect(line.hasPrefix(chunk.line_prefix) && line.contains("\"data\":\"" + chunk.data_head))
            #expect(line.utf8.count - 1 == chunk.line_bytes, "the line without its newline")
        }
    }

    @Test(arguments: [
        ("offer {\"h\":\"ABC\",\"size\":1}", "bad_message"),
        ("want {\"h\":\"\(fileHash)\"}", "bad_message"),
        ("chunk {\"h\":\"\(fileHash)\",\"o\":0,\"data\":\"\"}", "bad_chunk"),
        ("chunk {\"h\":\"\(fileHash)\",\"o\":0,\"data\":\"AA==\"}", "bad_chunk"),
        ("chunk {\"h\":\"\(fileHash)\",\"o\":0,\"data\":\"A+/B\"}", "bad_chunk"),
        ("fetch {\"h\":\"\(fileHash)\",\"o\":\"0\"}", "bad_message"),
    ])
    func badFileMessagesAreRefusedWithTheirCode(line: String, code: String) {
        #expect(Self.decodeError(line)?.code.rawValue == code, "\(line)")
    }

    @Test func aChunkOverTheLimitIsRefusedBeforeItIsDecoded() {
        let data = String(repeating: "A", count: (Message.Chunk.maximumBytes * 4 + 2) / 3 + 4)
        let error = Self.decodeError("chunk {\"h\":\"\(Self.fileHash)\",\"o\":0,\"data\":\"\(data)\"}")
        #expect(error?.code == .badChunk && error?.message.contains("262144") == true)
        let largest = String(repeating: "A", count: (Message.Chunk.maximumBytes * 4 + 2) / 3)
        #expect((try? LineCodec.decode(Array("chunk {\"h\":\"\(Self.fileHash)\",\"o\":0,\"data\":\"\(largest)\"}".utf8))) != nil)
    }

    /// The hand-written reader of `chunk` lines agrees with the full reader on honest lines and on
    /// every damage to them: the same message or the same refusal.
    @Test func theChunkFastPathAgreesWithTheFullReader() {
        let honest = LineCodec.encode(.chunk(.init(hash: Self.fileHash, offset: 1_234_567, data: Array(0...200))))
        var lines: [[UInt8]] = [Array(honest.dropLast())]
        let text = String(decoding: honest.dropLast(), as: UTF8.self)
        for (from, to) in [("\"o\":1234567", "\"o\":01234567"), ("\"o\":1234567", "\"o\":-1"), ("\"o\":1234567", "\"o\":99999999999999999999"),
                           ("\"data\":\"", "\"data\": \""), ("{\"h\"", "{ \"h\""), ("c0ffee", "C0FFEE"), ("\"}", "\",\"x\":1}"),
                           ("\"data\":\"AA", "\"data\":\"A+"), ("\"data\":\"", "\"data\":\"A"), ("\"o\":1234567,", "\"o\":1234567 ,")] {
            lines.append(Array(text.replacingOccurrences(of: from, with: to).utf8))
        }
        for line in lines {
            let fast = Result { () throws(ProtocolError) -> Message in try LineCodec.decode(line) }
            let full = Result { () throws(ProtocolError) -> Message in try LineCodec.decodeInFull(line) }
            switch (fast, full) {
            case (.success(let a), .success(let b)): #expect(a == b, "\(String(decoding: line, as: UTF8.self).prefix(120))")
            case (.failure(let a), .failure(let b)): #expect(a.code == b.code, "\(String(decoding: line, as: UTF8.self).prefix(120))")
            default: Issue.record("the readers disagree on \(String(decoding: line, as: UTF8.self).prefix(120)): \(fast) / \(full)")
            }
        }
    }

    @Test func aFetchsChunkSizeIsKeptWithinItsBounds() {
        #expect(Message.Fetch(hash: Self.fileHash, offset: 0).servedChunkBytes == 262_144)
        #expect(Message.Fetch(hash: Self.fileHash, offset: 0, chunkBytes: 65_536).servedChunkBytes == 65_536)
        for (asked, served) in [(0, 1024), (-5, 1024), (Int.min, 1024), (1_000_000, 262_144), (Int.max, 262_144)] {
            #expect(Message.Fetch(hash: Self.fileHash, offset: 0, chunkBytes: asked).servedChunkBytes == served, "\(asked)")
        }
    }
}

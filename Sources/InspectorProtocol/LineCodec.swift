import Foundation
import InspectorCore

/// Turns messages into lines and lines into messages.
///
/// Framing (finding the `\n`, capping the length) is the transport's job; the codec sees one
/// line without its newline (a trailing `\r` is tolerated) and either returns a message or throws a
/// ``ProtocolError`` that names what is wrong — never a payload.
///
/// ```swift
/// let line = LineCodec.encode(.pull(.init(cursor: 0)))      // "pull {\"cursor\":0}\n"
/// let message = try LineCodec.decode(line.dropLast())
/// ```
public enum LineCodec {
    /// The line for a message, newline included, as UTF-8 bytes.
    public static func encode(_ message: Message) -> [UInt8] {
        Array(encodeString(message).utf8)
    }

    /// The line for a message, newline included.
    public static func encodeString(_ message: Message) -> String {
        var out = message.verb + " "
        switch message {
        case .hello(let hello):
            var members: [(String, JSONValue)] = [
                ("version", .int(Int64(hello.version))), ("device", .string(hello.device)),
                ("token", .string(hello.token)), ("time", .int(hello.time)),
            ]
            if let digest = hello.planDigest { members.append(("plan_digest", .string(digest))) }
            if !hello.compress.isEmpty { members.append(("compress", .array(hello.compress.map(JSONValue.string)))) }
            if let cursor = hello.cursor { members.append(("cursor", .int(cursor))) }
            if hello.compact { members.append(("compact", .bool(true))) }
            out += JSONValue.object(members).serialized()
        case .welcome(let welcome):
            var members: [(String, JSONValue)] = [
                ("version", .int(Int64(welcome.version))), ("time", .int(welcome.time)),
                ("confirmed", .int(welcome.confirmed)), ("scope", .array(welcome.scope.map(JSONValue.string))),
                ("units", .array(welcome.units.map { unit in
                    .object([("id", .string(unit.id)), ("name", .string(unit.name)), ("kind", .string(unit.kind.rawValue)),
                             ("parent", unit.parent.map(JSONValue.string) ?? .null)])
                })),
                ("plan_digest", .string(welcome.planDigest)),
            ]
            if let compress = welcome.compress { members.append(("compress", .string(compress))) }
            if let toPull = welcome.toPull { members.append(("to_pull", .int(toPull))) }
            if !welcome.keys.isEmpty {
                members.append(("keys", .object(welcome.keys.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                    .map { ($0, .string(welcome.keys[$0]!)) })))
            }
            var text = JSONValue.object(members).serialized()
            if let plan = welcome.plan {
                text.removeLast()
                text += ",\"plan\":" + String(decoding: plan.encoded(), as: UTF8.self) + "}"
            }
            out += text
        case .push(let push):
            out += "{\"ops\":["
            appendOps(push.ops, to: &out)
            out += "],\"withdrawn\":[" + push.withdrawn.map(String.init).joined(separator: ",") + "]"
            if let head = push.head { out += ",\"head\":" + head.jsonValue().serialized() }
            out += "}"
        case .pushed(let pushed):
            out += "{\"confirmed\":\(pushed.confirmed),\"applied\":\(pushed.applied),\"duplicates\":\(pushed.duplicates)}"
        case .pull(let pull):
            var members: [(String, JSONValue)] = [("cursor", .int(pull.cursor))]
            if let limit = pull.limit { members.append(("limit", .int(Int64(limit)))) }
            if let report = pull.heldBack {
                members.append(("held_back", .object([
                    ("count", .int(Int64(report.count))),
                    ("ops", .array(report.entries.map { entry in
                        .object([("d", .string(entry.device)), ("s", .int(entry.sequence)),
                                 ("code", .string(entry.code)), ("message", .string(entry.message))])
                    })),
                ])))
            }
            out += JSONValue.object(members).serialized()
        case .ops(let batch):
            out += "{\"ops\":["
            appendOps(batch.ops, to: &out)
            // Elements that did not read as ops are written back as they were read (after the ops),
            // so a relayed batch loses nothing.
            for (index, element) in batch.unreadable.enumerated() { out += (batch.ops.isEmpty && index == 0 ? "" : ",") + element.json }
            out += "],\"cursor\":\(batch.cursor),\"more\":\(batch.more)}"
        case .offer(let offer):
            out += "{\"h\":" + JSONValue.string(offer.hash).serialized() + ",\"size\":\(offer.size)}"
        case .want(let state), .stored(let state):
            out += "{\"h\":" + JSONValue.string(state.hash).serialized() + ",\"have\":\(state.have)}"
        case .fetch(let fetch):
            out += "{\"h\":" + JSONValue.string(fetch.hash).serialized() + ",\"o\":\(fetch.offset)" + (fetch.chunkBytes.map { ",\"n\":\($0)" } ?? "") + "}"
        case .chunk(let chunk):
            out += "{\"h\":" + JSONValue.string(chunk.hash).serialized() + ",\"o\":\(chunk.offset),\"data\":\"" + Base64URL.encode(chunk.data) + "\"}"
        case .bye:
            out += "{}"
        case .error(let error):
            var members: [(String, JSONValue)] = [("code", .string(error.code.rawValue)), ("message", .string(error.message))]
            if let sequence = error.sequence { members.append(("seq", .int(sequence))) }
            out += JSONValue.object(members).serialized()
        }
        out += "\n"
        return out
    }

    private static func appendOps(_ ops: [Op], to out: inout String) {
        for (index, op) in ops.enumerated() {
            if index > 0 { out += "," }
            out += op.wireJSON()
        }
    }

    /// Splits a line into its verb and JSON body, checking UTF-8.
    public static func split<Bytes: Collection<UInt8>>(_ line: Bytes) throws(ProtocolError) -> (verb: String, body: Data) {
        var bytes = Array(line)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ProtocolError(.badLine, "the line is not valid UTF-8")
        }
        guard let space = bytes.firstIndex(of: UInt8(ascii: " ")), space > 0 else {
            throw ProtocolError(.badLine, "a line is a verb, a space, and a JSON object")
        }
        let verb = String(decoding: bytes[..<space], as: UTF8.self)
        guard verb.utf8.count <= 32, verb.utf8.allSatisfy({ $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") || $0 == UInt8(ascii: "_") }) else {
            throw ProtocolError(.badLine, "the verb must be lowercase letters")
        }
        return (verb, Data(bytes[(space + 1)...]))
    }

    /// Reads one line (without its `\n`).
    ///
    /// - Throws: ``ProtocolError`` `bad_line`, `unknown_verb`, `bad_message` or `invalid_op`.
    public static func decode<Bytes: Collection<UInt8>>(_ line: Bytes) throws(ProtocolError) -> Message {
        let (verb, body) = try split(line)
        // `push` and `ops` lines in this implementation's own form are read by hand, in one pass;
        // anything else (and any op that does not read) goes to the full reader below.
        if verb == "push" || verb == "ops", let message = OpsLineReader.read(verb: verb, body: body) { return message }
        if verb == "chunk", let message = readChunk(body) { return message }
        return try decodeInFull(verb: verb, body: body)
    }

    /// Reads one line (without its `\n`) with the full reader only, never the hand-written fast path:
    /// for the tests and the fuzzer, which check that the two agree.
    package static func decodeInFull<Bytes: Collection<UInt8>>(_ line: Bytes) throws(ProtocolError) -> Message {
        let (verb, body) = try split(line)
        return try decodeInFull(verb: verb, body: body)
    }

    private static func decodeInFull(verb: String, body: Data) throws(ProtocolError) -> Message {
        switch verb {
        case "hello":
            let wire: HelloWire = try decodeBody(body, verb)
            return .hello(Message.Hello(version: wire.version, device: wire.device, token: wire.token, time: wire.time,
                                        planDigest: wire.plan_digest, compress: wire.compress ?? [], cursor: wire.cursor,
                                        compact: wire.compact ?? false))
        case "welcome":
            let wire: WelcomeWire = try decodeBody(body, verb)
            var plan: Plan?
            if wire.plan != nil {
                guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                      // Only an object: corelibs' JSONSerialization.data(withJSONObject:) traps on a bare number or string.
                      let planObject = object["plan"] as? [String: Any],
                      let planData = try? JSONSerialization.data(withJSONObject: planObject) else {
                    throw ProtocolError(.badMessage, "welcome: the plan cannot be read")
                }
                do { plan = try Plan.decode(from: planData) } catch {
                    throw ProtocolError(.badMessage, "welcome: \(error.message)")
                }
            }
            return .welcome(Message.Welcome(version: wire.version, time: wire.time, confirmed: wire.confirmed, scope: wire.scope,
                                            units: wire.units.map { Plan.Unit(id: $0.id, name: $0.name, kind: Plan.Unit.Kind(rawValue: $0.kind) ?? .direct, parent: $0.parent) },
                                            planDigest: wire.plan_digest, plan: plan, compress: wire.compress, toPull: wire.to_pull, keys: wire.keys ?? [:]))
        case "push":
            let wire: PushWire = try decodeBody(body, verb)
            var ops: [Op] = []
            ops.reserveCapacity(wire.ops.count)
            for op in wire.ops { ops.append(try op.op()) }
            return .push(Message.Push(ops: ops, withdrawn: wire.withdrawn ?? [], head: try wire.head.map { wire throws(ProtocolError) in
                do throws(ProtocolError) { return try ChainSegment(wire: wire) } catch {
                    throw ProtocolError(.badMessage, "push: head: \(error.message)")
                }
            }))
        case "pushed":
            let wire: PushedWire = try decodeBody(body, verb)
            return .pushed(Message.Pushed(confirmed: wire.confirmed, applied: wire.applied, duplicates: wire.duplicates))
        case "pull":
            let wire: PullWire = try decodeBody(body, verb)
            let report = wire.held_back.map { held in
                Message.HeldBackReport(count: max(0, held.count), entries: held.ops.prefix(Message.HeldBackReport.maximumEntries).map {
                    Message.HeldBackReport.Entry(device: $0.d, sequence: $0.s, code: $0.code, message: $0.message)
                })
            }
            return .pull(Message.Pull(cursor: wire.cursor, limit: wire.limit, heldBack: report))
        case "ops":
            let wire: OpsWire = try decodeBody(body, verb)
            var ops: [Op] = []
            var unreadable: [Message.UnreadableOp] = []
            ops.reserveCapacity(wire.ops.count)
            for element in wire.ops {
                switch element.result {
                case .success(let op): ops.append(op)
                case .failure:
                    // An unreadable op is kept as its canonical JSON (sorted keys, one of each), and
                    // read again from that text: what a device holds back, reports and re-encodes
                    // is then the same whichever way the peer wrote it (a repeated key, say).
                    let canonical = element.json.serialized()
                    let again = (try? JSONDecoder().decode(PulledWireOp.self, from: Data(canonical.utf8)))?.result ?? element.result
                    switch again {
                    case .success(let op): ops.append(op)
                    case .failure(let error):
                        unreadable.append(Message.UnreadableOp(json: canonical, device: element.device, sequence: element.sequence, error: error))
                    }
                }
            }
            return .ops(Message.OpsBatch(ops: ops, cursor: wire.cursor, more: wire.more, unreadable: unreadable))
        case "offer":
            let wire: OfferWire = try decodeBody(body, verb)
            return .offer(Message.Offer(hash: try fileHash(wire.h, verb), size: wire.size))
        case "want", "stored":
            let wire: FileStateWire = try decodeBody(body, verb)
            let state = Message.FileState(hash: try fileHash(wire.h, verb), have: wire.have)
            return verb == "want" ? .want(state) : .stored(state)
        case "fetch":
            let wire: FetchWire = try decodeBody(body, verb)
            return .fetch(Message.Fetch(hash: try fileHash(wire.h, verb), offset: wire.o, chunkBytes: wire.n))
        case "chunk":
            let wire: ChunkWire = try decodeBody(body, verb)
            // Checked before decoding: base64url of 256 KiB is 349,526 characters.
            guard wire.data.utf8.count <= (Message.Chunk.maximumBytes * 4 + 2) / 3 else {
                throw ProtocolError(.badChunk, "chunk: a chunk carries at most \(Message.Chunk.maximumBytes) bytes")
            }
            guard let data = Base64URL.decode(wire.data) else { throw ProtocolError(.badChunk, "chunk: data is not base64url without padding") }
            guard !data.isEmpty else { throw ProtocolError(.badChunk, "chunk: data is empty") }
            return .chunk(Message.Chunk(hash: try fileHash(wire.h, verb), offset: wire.o, data: data))
        case "bye":
            let _: EmptyWire = try decodeBody(body, verb)
            return .bye
        case "error":
            let wire: ErrorWire = try decodeBody(body, verb)
            return .error(ProtocolError(ProtocolError.Code(rawValue: wire.code), wire.message, sequence: wire.seq))
        default:
            throw ProtocolError(.unknownVerb, "unknown verb '\(verb)'")
        }
    }

    /// A `chunk` line in this implementation's own form (`{"h":"…","o":N,"data":"…"}`, nothing else),
    /// read in one pass without a JSON decoder; nil for any other form, which the full reader takes
    /// (and refuses or reads the same way).
    static func readChunk(_ body: Data) -> Message? {
        body.withUnsafeBytes { raw -> Message? in
            let bytes = raw.bindMemory(to: UInt8.self)
            let head = Array("{\"h\":\"".utf8), middle = Array("\",\"o\":".utf8), tail = Array(",\"data\":\"".utf8)
            func matches(_ literal: [UInt8], at index: Int) -> Bool {
                index + literal.count <= bytes.count && literal.indices.allSatisfy { bytes[index + $0] == literal[$0] }
            }
            guard matches(head, at: 0) else { return nil }
            let hashStart = head.count, hashEnd = hashStart + 64
            guard matches(middle, at: hashEnd) else { return nil }
            let hash = String(decoding: UnsafeBufferPointer(rebasing: bytes[hashStart..<hashEnd]), as: UTF8.self)
            guard AttachmentDescriptor.isHash(hash) else { return nil }
            var index = hashEnd + middle.count
            let digitsStart = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            let digits = index - digitsStart
            guard digits >= 1, digits <= 18, digits == 1 || bytes[digitsStart] != 0x30, matches(tail, at: index) else { return nil }
            var offset: Int64 = 0
            for position in digitsStart..<index { offset = offset * 10 + Int64(bytes[position] - 0x30) }
            let dataStart = index + tail.count
            guard bytes.count >= dataStart + 2, bytes[bytes.count - 2] == UInt8(ascii: "\""), bytes[bytes.count - 1] == UInt8(ascii: "}") else { return nil }
            let text = UnsafeBufferPointer(rebasing: bytes[dataStart..<(bytes.count - 2)])
            guard text.count <= (Message.Chunk.maximumBytes * 4 + 2) / 3, let data = Base64URL.decode(bytes: text), !data.isEmpty else { return nil }
            return .chunk(Message.Chunk(hash: hash, offset: offset, data: data))
        }
    }

    /// A file's hash as a message carries it: 64 lowercase hex digits.
    private static func fileHash(_ text: String, _ verb: String) throws(ProtocolError) -> String {
        guard AttachmentDescriptor.isHash(text) else {
            throw ProtocolError(.badMessage, "\(verb): h must be a SHA-256 as 64 lowercase hex digits")
        }
        return text
    }

    /// The deepest nesting of arrays and objects a body may have. Version 1's deepest body (a welcome
    /// carrying its plan) nests 8 levels. Foundation's JSONDecoder traps (it does not throw) on a body
    /// whose last byte opens level 513, one past its own limit (`[` × 513): deeper bodies never reach it.
    static let maximumNesting = 64

    /// Whether `body` opens more than `limit` nested arrays or objects (brackets inside strings do not count).
    static func nestsDeeper(_ body: Data, than limit: Int) -> Bool {
        body.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Bool in
            var depth = 0
            var inString = false, escaped = false
            for byte in bytes {
                if inString {
                    if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                    continue
                }
                switch byte {
                case 0x22: inString = true
                case 0x5B, 0x7B:
                    depth += 1
                    if depth > limit { return true }
                case 0x5D, 0x7D: depth -= 1
                default: break
                }
            }
            return false
        }
    }

    static func decodeBody<T: Decodable>(_ body: Data, _ verb: String) throws(ProtocolError) -> T {
        guard !nestsDeeper(body, than: maximumNesting) else {
            throw ProtocolError(.badLine, "\(verb): the body nests deeper than \(maximumNesting) levels")
        }
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context) where context.codingPath.isEmpty:
                // Foundation also reports a number that does not fit the key's type (1.5 for an
                // integer) this way, without a path: that body is readable JSON with a wrong type.
                if (try? JSONSerialization.jsonObject(with: body)) is [String: Any] {
                    throw ProtocolError(.badMessage, "\(verb): a value has the wrong type or is out of range")
                }
                throw ProtocolError(.badLine, "\(verb): the body is not a JSON object")
            case .keyNotFound(let key, _):
                throw ProtocolError(.badMessage, "\(verb): missing key '\(key.stringValue)'")
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
                throw ProtocolError(.badMessage, "\(verb): wrong type at '\(path)'")
            @unknown default:
                throw ProtocolError(.badMessage, "\(verb): unreadable")
            }
        } catch {
            throw ProtocolError(.badLine, "\(verb): the body is not a JSON object")
        }
    }
}

struct EmptyWire: Decodable {}
struct HelloWire: Decodable {
    var version: Int
    var device: String
    var token: String
    var time: Int64
    var plan_digest: String?
    var compress: [String]?
    var cursor: Int64?
    var compact: Bool?
}
struct UnitWire: Decodable {
    var id: String
    var name: String
    var kind: String
    var parent: String?
}
struct WelcomeWire: Decodable {
    var version: Int
    var time: Int64
    var confirmed: Int64
    var scope: [String]
    var units: [UnitWire]
    var plan_digest: String
    var plan: EmptyWire?
    var compress: String?
    var to_pull: Int64?
    var keys: [String: String]?
}
struct OfferWire: Decodable {
    var h: String
    var size: Int64
}
struct FileStateWire: Decodable {
    var h: String
    var have: Int64
}
struct FetchWire: Decodable {
    var h: String
    var o: Int64
    var n: Int?
}
struct ChunkWire: Decodable {
    var h: String
    var o: Int64
    var data: String
}
struct PushWire: Decodable {
    var ops: [WireOp]
    var withdrawn: [Int64]?
    var head: ChainSegmentWire?
}
struct PushedWire: Decodable {
    var confirmed: Int64
    var applied: Int
    var duplicates: Int
}
struct PullWire: Decodable {
    var cursor: Int64
    var limit: Int?
    var held_back: HeldBackWire?
}
struct HeldBackWire: Decodable {
    struct Entry: Decodable {
        var d: String
        var s: Int64
        var code: String
        var message: String
    }
    var count: Int
    var ops: [Entry]
}
struct OpsWire: Decodable {
    var ops: [PulledWireOp]
    var cursor: Int64
    var more: Bool
}
struct ErrorWire: Decodable {
    var code: String
    var message: String
    var seq: Int64?
}

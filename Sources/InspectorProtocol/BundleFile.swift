import Crypto
import Foundation
import InspectorCore

/// A bundle: operations carried by hand (a USB stick) between replicas, as lines of the protocol.
///
/// ```text
/// bundle {"version":2,"plan":"kh-1181-2024","device":"dev-a","from":0,"through":42}
/// op {"d":"dev-a","s":1,...}
/// ...
/// head {"d":"dev-a","from":1,"p":"…","s":42,"h":"…","key":"…","sig":"…","gaps":[]}
/// file {"h":"…","o":0,"data":"…"}
/// end {"count":42,"sha256":"…"}
/// ```
///
/// The `file` lines carry the content of the files the ops attach (PROTOCOL.md 17.6), in chunks
/// like a sync's; each file must be named, with its size, by an `attachment_add` op of the bundle,
/// and its bytes must be its hash: a signed op vouches for the file.
///
/// The `end` trailer holds the number of `op` lines and the SHA-256 of every byte before the
/// trailer, so a file cut anywhere, even between two lines, or damaged, is detected and imports
/// nothing. The trailer proves nothing about who wrote the ops, since anyone can recompute it:
/// each author's `head` line does, a ``ChainSegment`` its device signed, checked by ``decode(_:)``
/// against the ops; the importer then checks that the key is the one it knows for that device.
/// See `Protocol/PROTOCOL.md`, sections 17 and 19.
public struct BundleFile: Sendable, Equatable {
    /// The plan the operations follow.
    public var plan: String
    /// The replica that wrote the bundle.
    public var device: String
    /// The log positions covered: after `from`, up to and including `through`.
    public var from: Int64
    public var through: Int64
    public var ops: [Op]
    /// One signed chain segment per author of ``ops``, covering that author's ops.
    public var heads: [ChainSegment]
    /// The content of files the ops attach, by hash.
    public var files: [String: [UInt8]]

    /// The bundle format this version writes and reads: 2, signed (version 1 carried no signatures).
    public static let version = 2

    public init(plan: String, device: String, from: Int64, through: Int64, ops: [Op], heads: [ChainSegment], files: [String: [UInt8]] = [:]) {
        self.files = files
        self.plan = plan
        self.device = device
        self.from = from
        self.through = through
        self.ops = ops
        self.heads = heads
    }

    /// The bundle's bytes.
    public func encoded() -> Data {
        var body = "bundle " + JSONValue.object([
            ("version", .int(Int64(Self.version))), ("plan", .string(plan)), ("device", .string(device)),
            ("from", .int(from)), ("through", .int(through)),
        ]).serialized() + "\n"
        for op in ops { body += "op " + op.wireJSON() + "\n" }
        for head in heads.sorted(by: { Array($0.device.utf8).lexicographicallyPrecedes(Array($1.device.utf8)) }) {
            body += "head " + head.jsonValue().serialized() + "\n"
        }
        var data = Data(body.utf8)
        for hash in files.keys.sorted() {
            let bytes = files[hash]!
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + Message.Chunk.maximumBytes)
                let line = LineCodec.encodeString(.chunk(Message.Chunk(hash: hash, offset: Int64(offset), data: Array(bytes[offset..<end]))))
                data.append(contentsOf: Array(("file" + line.dropFirst("chunk".count)).utf8))
                offset = end
            }
        }
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        data.append(contentsOf: Array("end {\"count\":\(ops.count),\"sha256\":\"\(digest)\"}\n".utf8))
        return data
    }

    /// Reads and verifies a bundle: its lines, its trailer, and every author's ops against the
    /// author's signed head. Whose keys signed is for the importer to check (``ChainSegment/fingerprint``).
    ///
    /// - Throws: ``ProtocolError`` `bad_bundle` naming the line at fault (1-based), or the trailer;
    ///   `bad_signature` naming the op or the run of ops that does not verify.
    public static func decode(_ data: Data) throws(ProtocolError) -> BundleFile {
        let bytes = [UInt8](data)
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            lines.append(bytes[start..<index])
            start = index + 1
        }
        let unterminated = start < bytes.count
        func fail(_ line: Int, _ why: String) -> ProtocolError {
            ProtocolError(.badBundle, "bundle line \(line): \(why); nothing was imported")
        }
        guard let first = lines.first else { throw ProtocolError(.badBundle, "the bundle is empty or has no complete line; nothing was imported") }
        let header: HeaderWire
        do throws(ProtocolError) {
            let (verb, body) = try LineCodec.split(first)
            guard verb == "bundle" else { throw fail(1, "a bundle starts with a 'bundle' line") }
            header = try LineCodec.decodeBody(body, verb)
        } catch { throw error.code == .badBundle ? error : fail(1, "the header cannot be read (\(error.message))") }
        guard header.version == Self.version else {
            throw fail(1, header.version == 1
                       ? "bundle version 1 carries no signatures and is no longer accepted; export it again with this release"
                       : "bundle version \(header.version) is not supported")
        }
        guard lines.count >= 2, !unterminated else {
            throw ProtocolError(.badBundle, "the bundle is cut: the 'end' trailer is missing after line \(lines.count); nothing was imported")
        }
        let trailerLine = lines.count
        let trailer: TrailerWire
        do throws(ProtocolError) {
            let (verb, body) = try LineCodec.split(lines[lines.count - 1])
            guard verb == "end" else {
                throw ProtocolError(.badBundle, "the bundle is cut: the 'end' trailer is missing after line \(lines.count); nothing was imported")
            }
            trailer = try LineCodec.decodeBody(body, verb)
        } catch { throw error.code == .badBundle ? error : fail(trailerLine, "the trailer cannot be read") }
        var ops: [Op] = []
        var heads: [(line: Int, segment: ChainSegment)] = []
        var files: [String: [UInt8]] = [:]
        var fileLines: [String: Int] = [:]
        for number in 2..<trailerLine {
            do throws(ProtocolError) {
                let (verb, body) = try LineCodec.split(lines[number - 1])
                switch verb {
                case "op" where heads.isEmpty:
                    let wire: WireOp = try LineCodec.decodeBody(body, verb)
                    ops.append(try wire.op())
                case "head" where files.isEmpty:
                    let wire: ChainSegmentWire = try LineCodec.decodeBody(body, verb)
                    heads.append((number, try ChainSegment(wire: wire)))
                case "file" where !heads.isEmpty:
                    guard case .chunk(let chunk) = try LineCodec.decode(Array("chunk ".utf8) + body) else { throw fail(number, "not a file chunk") }
                    let held = files[chunk.hash]?.count ?? 0
                    guard chunk.offset == Int64(held) else {
                        throw fail(number, "a chunk of file \(chunk.hash.prefix(16))… at \(chunk.offset), but the next byte is \(held)")
                    }
                    guard held + chunk.data.count <= Int(AttachmentDescriptor.maximumSize) else {
                        throw fail(number, "file \(chunk.hash.prefix(16))… is over \(AttachmentDescriptor.maximumSize) bytes")
                    }
                    files[chunk.hash, default: []] += chunk.data
                    fileLines[chunk.hash] = number
                default:
                    throw fail(number, heads.isEmpty ? "expected an 'op' or 'head' line, found '\(verb)'"
                               : files.isEmpty ? "expected a 'head' or 'file' line after the first head, found '\(verb)'"
                               : "expected a 'file' line after the first one, found '\(verb)'")
                }
            } catch {
                throw error.code == .badBundle ? error : fail(number, error.message)
            }
        }
        guard trailer.count == ops.count else {
            throw fail(trailerLine, "the trailer counts \(trailer.count) operations but the bundle holds \(ops.count)")
        }
        let signedEnd = bytes.count - lines[lines.count - 1].count - 1
        let digest = SHA256.hash(data: bytes[..<signedEnd]).map { String(format: "%02x", $0) }.joined()
        guard digest == trailer.sha256 else {
            throw fail(trailerLine, "the digest does not match the content: the bundle was altered or damaged")
        }
        try verify(ops: ops, heads: heads, fail: fail)
        // Every file is one that a (signed) op of the bundle attaches, whole, and its hash.
        var named: [String: Int64] = [:]
        for op in ops { if let file = op.attachment { named[file.hash] = file.size } }
        for (hash, bytes) in files {
            let line = fileLines[hash]!
            guard let size = named[hash] else { throw fail(line, "file \(hash.prefix(16))… is attached by no operation of the bundle") }
            guard Int64(bytes.count) == size else { throw fail(line, "file \(hash.prefix(16))… holds \(bytes.count) bytes, not the \(size) its operation says") }
            let actual = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            guard actual == hash else { throw fail(line, "file \(hash.prefix(16))… is not its hash (its bytes hash to \(actual.prefix(16))…): it was altered") }
        }
        return BundleFile(plan: header.plan, device: header.device, from: header.from, through: header.through, ops: ops,
                          heads: heads.map(\.segment), files: files)
    }

    /// Each author of the ops has exactly one head, each head an op, and each author's ops verify
    /// against its head.
    private static func verify(ops: [Op], heads: [(line: Int, segment: ChainSegment)],
                               fail: (Int, String) -> ProtocolError) throws(ProtocolError) {
        var byAuthor: [String: [Op]] = [:]
        for op in ops { byAuthor[op.device, default: []].append(op) }
        var headed: Set<String> = []
        for (line, head) in heads {
            guard headed.insert(head.device).inserted else {
                throw fail(line, "a second signed head for device '\(head.device.excerpt(70))'")
            }
            guard let carried = byAuthor[head.device] else {
                throw fail(line, "a signed head for device '\(head.device.excerpt(70))', whose ops the bundle does not carry")
            }
            try head.verify(carrying: carried)
        }
        if let unsigned = ops.first(where: { !headed.contains($0.device) }) {
            throw ProtocolError(.badBundle, "operation \(unsigned.device.excerpt(70))#\(unsigned.sequence) has no signed head of its device in the bundle; nothing was imported")
        }
    }
}

struct HeaderWire: Decodable {
    var version: Int
    var plan: String
    var device: String
    var from: Int64
    var through: Int64
}

struct TrailerWire: Decodable {
    var count: Int
    var sha256: String
}

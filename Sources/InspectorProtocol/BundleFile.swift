import Crypto
import Foundation
import InspectorCore

/// A bundle: operations carried by hand (a USB stick) between replicas, as lines of the protocol.
///
/// ```text
/// bundle {"version":1,"plan":"kh-1181-2024","device":"dev-a","from":0,"through":42}
/// op {"d":"dev-a","s":1,...}
/// ...
/// end {"count":42,"sha256":"…"}
/// ```
///
/// The `end` trailer holds the number of `op` lines and the SHA-256 of every byte before the
/// trailer, so a file cut anywhere, even between two lines, or altered, is detected and imports
/// nothing. See `Protocol/PROTOCOL.md`, "Bundles".
public struct BundleFile: Sendable, Equatable {
    /// The plan the operations follow.
    public var plan: String
    /// The replica that wrote the bundle.
    public var device: String
    /// The log positions covered: after `from`, up to and including `through`.
    public var from: Int64
    public var through: Int64
    public var ops: [Op]

    public init(plan: String, device: String, from: Int64, through: Int64, ops: [Op]) {
        self.plan = plan
        self.device = device
        self.from = from
        self.through = through
        self.ops = ops
    }

    /// The bundle's bytes.
    public func encoded() -> Data {
        var body = "bundle " + JSONValue.object([
            ("version", .int(1)), ("plan", .string(plan)), ("device", .string(device)),
            ("from", .int(from)), ("through", .int(through)),
        ]).serialized() + "\n"
        for op in ops { body += "op " + op.wireJSON() + "\n" }
        var data = Data(body.utf8)
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        data.append(contentsOf: Array("end {\"count\":\(ops.count),\"sha256\":\"\(digest)\"}\n".utf8))
        return data
    }

    /// Reads and verifies a bundle.
    ///
    /// - Throws: ``ProtocolError`` `bad_bundle` naming the line at fault (1-based), or the trailer.
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
        guard header.version == 1 else { throw fail(1, "bundle version \(header.version) is not supported") }
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
        for number in 2..<trailerLine {
            do throws(ProtocolError) {
                let (verb, body) = try LineCodec.split(lines[number - 1])
                guard verb == "op" else { throw fail(number, "expected an 'op' line, found '\(verb)'") }
                let wire: WireOp = try LineCodec.decodeBody(body, verb)
                ops.append(try wire.op())
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
        return BundleFile(plan: header.plan, device: header.device, from: header.from, through: header.through, ops: ops)
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

import Foundation
import InspectorCore

extension Op {
    /// The operation as the compact JSON object the protocol and bundles carry.
    ///
    /// Keys: `d` device, `s` sequence, `t` physical millis, `c` counter, `k` kind, `u` unit, and when
    /// present `i` item, `f` field, `n` finding id, `fk` finding kind, then `v` value. See `Protocol/PROTOCOL.md`.
    public func wireJSON() -> String {
        var out = "{\"d\":"
        JSONValue.writeString(device, to: &out)
        out += ",\"s\":\(sequence),\"t\":\(timestamp.millis),\"c\":\(timestamp.counter),\"k\":\"\(kind.rawValue)\",\"u\":"
        JSONValue.writeString(unit, to: &out)
        if let item { out += ",\"i\":"; JSONValue.writeString(item, to: &out) }
        if let field { out += ",\"f\":"; JSONValue.writeString(field, to: &out) }
        if let finding { out += ",\"n\":"; JSONValue.writeString(finding, to: &out) }
        if let findingKind { out += ",\"fk\":\"\(findingKind.rawValue)\"" }
        out += ",\"v\":"
        JSONValue.writeString(value, to: &out)
        out += "}"
        return out
    }
}

extension Op {
    /// An upper bound of ``wireJSON()``'s length in bytes, computed without encoding.
    public var estimatedWireBytes: Int {
        2 * (value.utf8.count + unit.utf8.count + (item?.utf8.count ?? 0) + (field?.utf8.count ?? 0) + (finding?.utf8.count ?? 0))
            + device.utf8.count + 160
    }
}

extension Op {
    /// Reads an operation from its JSON object (as ``wireJSON()`` writes it), shape checked.
    ///
    /// - Throws: ``ProtocolError`` `bad_message` or `invalid_op`.
    public init(wireJSON json: String) throws(ProtocolError) {
        let wire: WireOp = try LineCodec.decodeBody(Data(json.utf8), "op")
        self = try wire.op()
    }
}

/// The wire form of an operation, for decoding.
///
/// An op object carrying a key this version does not know is refused (`bad_message` with its
/// `seq`): ops are relayed, and their identity covers every key, so dropping a key would relay a
/// different op under the same identity (PROTOCOL.md 6.1).
struct WireOp: Decodable {
    var d: String
    var s: Int64
    var t: Int64
    var c: Int64
    var k: String
    var u: String
    var i: String?
    var f: String?
    var n: String?
    var fk: String?
    var v: String

    /// The keys of an op object in version 1.
    static let knownKeys: Set<String> = ["d", "s", "t", "c", "k", "u", "i", "f", "n", "fk", "v"]

    private enum Key: String, CodingKey { case d, s, t, c, k, u, i, f, n, fk, v }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        d = try container.decode(String.self, forKey: .d)
        s = try container.decode(Int64.self, forKey: .s)
        t = try container.decode(Int64.self, forKey: .t)
        c = try container.decode(Int64.self, forKey: .c)
        k = try container.decode(String.self, forKey: .k)
        u = try container.decode(String.self, forKey: .u)
        i = try container.decodeIfPresent(String.self, forKey: .i)
        f = try container.decodeIfPresent(String.self, forKey: .f)
        n = try container.decodeIfPresent(String.self, forKey: .n)
        fk = try container.decodeIfPresent(String.self, forKey: .fk)
        v = try container.decode(String.self, forKey: .v)
        let all = try decoder.container(keyedBy: AnyKey.self).allKeys
        // The least unknown key, not the first listed: Foundation lists an object's keys in no
        // fixed order, and the message must not vary between two readings of one op.
        unknownKey = all.map(\.stringValue).filter { !Self.knownKeys.contains($0) }.min()
    }

    /// The least key (in code-unit order) this version does not know, if any.
    var unknownKey: String?

    /// The operation, with its shape checked.
    func op() throws(ProtocolError) -> Op {
        if let unknownKey {
            throw ProtocolError(.badMessage, "operation \(s): unknown key '\(unknownKey.excerpt(30))'; an op carries only d s t c k u i f n fk v", sequence: s)
        }
        guard let kind = Op.Kind(rawValue: k) else {
            throw ProtocolError(.badMessage, "operation \(s): unknown kind '\(k.excerpt(30))'", sequence: s)
        }
        var findingKind: FindingKind?
        if let fk {
            guard let parsed = FindingKind(rawValue: fk) else {
                throw ProtocolError(.badMessage, "operation \(s): unknown finding kind '\(fk.excerpt(30))'", sequence: s)
            }
            findingKind = parsed
        }
        let op = Op(device: d, sequence: s, timestamp: HLCTimestamp(millis: t, counter: c, device: d), kind: kind,
                    unit: u, item: i, field: f, finding: n, findingKind: findingKind, value: v)
        do {
            try op.validateShape()
        } catch {
            throw ProtocolError(.invalidOp, error.message, sequence: s)
        }
        return op
    }
}

/// One element of a pulled `ops` array: the operation when it reads, else why not, and its JSON.
///
/// A device holds back an op it cannot read instead of refusing the whole batch (PROTOCOL.md 11.5),
/// so one op from a newer peer never wedges its sync.
struct PulledWireOp: Decodable {
    var result: Result<Op, ProtocolError>
    var json: JSONValue
    var device: String?
    var sequence: Int64?

    init(from decoder: any Decoder) throws {
        json = try decoder.singleValueContainer().decode(AnyJSON.self).value
        if case .object(let members) = json {
            for (key, value) in members {
                if key == "d", case .string(let text) = value { device = text }
                if key == "s", case .number(let text) = value { sequence = Int64(text) }
            }
        }
        do {
            let wire = try WireOp(from: decoder)
            do throws(ProtocolError) { result = .success(try wire.op()) } catch { result = .failure(error) }
        } catch {
            result = .failure(ProtocolError(.badMessage, "operation \(sequence.map(String.init) ?? "?"): a key is missing or has the wrong type", sequence: sequence))
        }
    }
}

/// Any JSON value, decoded into a ``InspectorCore/JSONValue``.
struct AnyJSON: Decodable {
    var value: JSONValue

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            var members: [(String, JSONValue)] = []
            for key in object.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                members.append((key.stringValue, try object.decode(AnyJSON.self, forKey: key).value))
            }
            value = .object(members)
        } else if var array = try? decoder.unkeyedContainer() {
            var values: [JSONValue] = []
            while !array.isAtEnd { values.append(try array.decode(AnyJSON.self).value) }
            value = .array(values)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                value = .null
            } else if let bool = try? single.decode(Bool.self) {
                value = .bool(bool)
            } else if let integer = try? single.decode(Int64.self) {
                value = .int(integer)
            } else if let number = try? single.decode(Double.self) {
                value = .number(number.isFinite ? "\(number)" : "0")
            } else {
                value = .string(try single.decode(String.self))
            }
        }
    }
}

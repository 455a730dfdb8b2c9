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

/// The wire form of an operation, for decoding.
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

    /// The operation, with its shape checked.
    func op() throws(ProtocolError) -> Op {
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

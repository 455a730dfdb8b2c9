import Foundation
import InspectorCore
import PropertyBased
import Testing

@Suite struct JSONValueTests {
    static func literal(_ text: String) -> String {
        var out = ""
        JSONValue.writeString(text, to: &out)
        return out
    }

    @Test(arguments: [
        ("plain", "\"plain\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("a\nb\rc\td", "\"a\\nb\\rc\\td\""),
        ("\u{0}\u{1}\u{1F}", "\"\\u0000\\u0001\\u001f\""),
        ("\u{8}\u{C}", "\"\\u0008\\u000c\""),
        ("del\u{7F}", "\"del\\u007f\""),
        ("line\u{2028}para\u{2029}", "\"line\\u2028para\\u2029\""),
        ("a/b", "\"a/b\""),
        ("", "\"\""),
    ])
    func escaping(text: String, expected: String) {
        #expect(Self.literal(text) == expected)
    }

    @Test func vietnameseAndEmojiStayUTF8() {
        let text = "Mường Lay — Điện Biên 🇻🇳"
        let out = JSONValue.string(text).serialized()
        #expect(out == "\"" + text + "\"")
        #expect(!out.contains("\\u"))
        #expect(Array(out.utf8).count == Array(text.utf8).count + 2)
        // "ư" is C6 B0 in UTF-8.
        #expect(Array(out.utf8).starts(with: [0x22, 0x4D, 0xC6, 0xB0]))
    }

    @Test func decomposedTextIsWrittenAsGiven() {
        // The writer does not normalize: that is the job of the value rules upstream.
        let decomposed = "u\u{031B}"
        #expect(Array(JSONValue.string(decomposed).serialized().utf8) == [0x22, 0x75, 0xCC, 0x9B, 0x22])
    }

    @Test func objectKeysKeepTheirOrder() {
        let json = JSONValue.object([("zeta", .int(1)), ("alpha", .int(2)), ("mid", .null)])
        #expect(json.serialized() == "{\"zeta\":1,\"alpha\":2,\"mid\":null}")
        let reordered = JSONValue.object([("alpha", .int(2)), ("zeta", .int(1)), ("mid", .null)])
        #expect(json != reordered)
    }

    @Test func numbersAreWrittenVerbatim() {
        #expect(JSONValue.number("12.5").serialized() == "12.5")
        #expect(JSONValue.number("12.50").serialized() == "12.50")
        #expect(JSONValue.number("123456789012345678901234567890").serialized() == "123456789012345678901234567890")
        #expect(JSONValue.number("0.1").serialized() == "0.1")
        #expect(JSONValue.int(-42).serialized() == "-42")
        #expect(JSONValue.int(Int64.max).serialized() == "9223372036854775807")
    }

    @Test func scalarsAndEmptyContainers() {
        #expect(JSONValue.null.serialized() == "null")
        #expect(JSONValue.bool(true).serialized() == "true")
        #expect(JSONValue.bool(false).serialized() == "false")
        #expect(JSONValue.array([]).serialized() == "[]")
        #expect(JSONValue.object([]).serialized() == "{}")
        #expect(JSONValue.array([]).prettyPrinted() == "[]")
        #expect(JSONValue.object([]).prettyPrinted() == "{}")
    }

    @Test func prettyPrintingIsExact() {
        let json = JSONValue.object([
            ("id", .string("muong-lay")),
            ("values", .array([.number("1"), .object([("a", .bool(true))]), .array([])])),
            ("empty", .object([])),
        ])
        let expected = """
            {
              "id": "muong-lay",
              "values": [
                1,
                {
                  "a": true
                },
                []
              ],
              "empty": {}
            }
            """
        #expect(json.prettyPrinted() == expected)
        #expect(json.serialized() == "{\"id\":\"muong-lay\",\"values\":[1,{\"a\":true},[]],\"empty\":{}}")
    }

    @Test func equalityAndHashFollowTheSerialization() {
        let a = JSONValue.object([("n", .number("1"))])
        let b = JSONValue.object([("n", .int(1))])
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(JSONValue.number("1.0") != JSONValue.number("1"))
        #expect(JSONValue.string("1") != JSONValue.number("1"))
    }

    /// Any string written as a literal reads back, through a standard JSON parser, as the same scalars.
    @Test func stringLiteralsReadBackUnchanged() async throws {
        let scalar = Gen.unicodeScalar(in: "\u{0}"..."\u{2FFF}")
        let text = scalar.array(of: 0...24).map { String(String.UnicodeScalarView($0)) }
        await propertyCheck(count: 300, input: text) { text throws in
            let literal = Self.literal(text)
            #expect(!literal.unicodeScalars.contains { $0.value < 0x20 })
            let data = Data(("[" + literal + "]").utf8)
            let decoded = try JSONSerialization.jsonObject(with: data) as? [String]
            #expect(decoded.map { $0.map(scalars) } == [scalars(text)], "\(literal)")
        }
    }
}

import Foundation
import InspectorProtocol
import Testing

/// Unpadded base64url, against Foundation's base64 for every length, and its refusals.
@Suite struct Base64URLTests {
    static func reference(_ bytes: [UInt8]) -> String {
        String(Data(bytes).base64EncodedString().compactMap { $0 == "=" ? nil : $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    @Test func everyLengthRoundTripsAndMatchesFoundation() {
        var state: UInt64 = 0x5EED
        for length in 0...300 {
            let bytes = (0..<length).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 33)
            }
            let text = Base64URL.encode(bytes)
            #expect(text == Self.reference(bytes), "length \(length)")
            #expect(Base64URL.decode(text) == bytes, "length \(length)")
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test(arguments: ["A", "AAAAA", "AA==", "AAA=", "A+/B", "AA AA", "AA\nA", "AB", "AAB", "ÀÀÀÀ", "AAAA="])
    func anythingElseIsRefused(text: String) {
        #expect(Base64URL.decode(text) == nil, "'\(text)'")
    }

    @Test func theEmptyTextIsTheEmptyString() {
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("AA") == [0] && Base64URL.decode("AAA") == [0, 0])
    }
}

import Foundation
import InspectorCore
import Testing

/// `Text`: NFC checks and their fast path.
@Suite struct TextTests {
    /// Every scalar the fast path accepts is its own NFC, alone and after a letter; text the fast path
    /// refuses is decided by normalizing, with the same verdict as Foundation.
    @Test func theQuickCheckAgreesWithFoundationOnEveryScalarItAccepts() {
        let ranges: [ClosedRange<UInt32>] = [0x20...0x2FF, 0x1E00...0x1EFF, 0x2010...0x2027, 0x2030...0x205E]
        for range in ranges {
            for value in range {
                guard let scalar = Unicode.Scalar(value) else { continue }
                for text in [String(Character(scalar)), "a" + String(Character(scalar)), String(Character(scalar)) + "ơ"] {
                    #expect(Text.isQuickNFC(text), "U+\(String(value, radix: 16))")
                    #expect(text.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars),
                            "U+\(String(value, radix: 16)) is not its own NFC in '\(text)'")
                }
            }
        }
    }

    @Test func vietnameseInNFCTakesTheFastPathAndDecomposedTextDoesNot() {
        let nfc = "Chưa trích lập quỹ thi đua, khen thưởng “đúng tỷ lệ” — Mường Ảng…"
        #expect(Text.isQuickNFC(nfc) && Text.isNFC(nfc))
        let nfd = nfc.decomposedStringWithCanonicalMapping
        #expect(!Text.isQuickNFC(nfd) && !Text.isNFC(nfd))
        #expect(Text.nfc(nfd).unicodeScalars.elementsEqual(nfc.unicodeScalars))
        // A scalar outside the fast path's ranges: normalized to decide, either way.
        #expect(Text.isNFC("Ω") && !Text.isQuickNFC("Ω"))
        #expect(!Text.isNFC("\u{2126}"), "OHM SIGN is a singleton: its NFC is Ω")
        #expect(!Text.isNFC("\u{2000}"), "EN QUAD is a singleton, outside the fast path")
    }
}

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

    /// The byte-level fast path accepts exactly the scalars of its ranges: every other scalar of the
    /// Basic Multilingual Plane and a sample of the others is refused, alone and between letters.
    @Test func theQuickCheckRefusesEveryScalarOutsideItsRanges() {
        let accepted: [ClosedRange<UInt32>] = [0...0x2FF, 0x1E00...0x1EFF, 0x2010...0x2027, 0x2030...0x205E]
        for value in Array(UInt32(0x300)...0xFFFF) + Array(stride(from: UInt32(0x10000), through: 0x10FFFF, by: 97)) {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let expected = accepted.contains { range in range.contains(value) }
            let texts = [String(Character(scalar)), "a" + String(Character(scalar)) + "b"]
            for text in texts where Text.isQuickNFC(text) != expected {
                Issue.record("U+\(String(value, radix: 16)): isQuickNFC is \(!expected) in '\(text)'")
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

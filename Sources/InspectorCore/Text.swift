import Foundation

/// The text rules of InspectorSync: Unicode NFC, no control characters, bounded length.
public enum Text {
    /// The most characters a text value, a finding or a reason may hold unless a field says less.
    public static let defaultMaximumLength = 4000

    /// The most UTF-8 bytes any text may take, whatever its length in characters: 4000 characters of
    /// four bytes each fit; text piled with combining marks does not.
    public static let maximumBytes = 16 * 1024

    /// Returns `text` in Unicode Normalization Form C.
    public static func nfc(_ text: String) -> String {
        isQuickNFC(text) ? text : text.precomposedStringWithCanonicalMapping
    }

    /// Whether `text` is in Unicode Normalization Form C (compared scalar by scalar: Swift's `==` on
    /// strings is canonical equivalence, which would call any text NFC).
    public static func isNFC(_ text: String) -> Bool {
        isQuickNFC(text) || text.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    /// Whether `text` is certainly in NFC, decided from its scalars alone, without normalizing: every
    /// scalar is below U+0300 (the first combining mark), a precomposed letter of Latin Extended
    /// Additional (U+1E00–U+1EFF, where Vietnamese's letters with two marks live), or general
    /// punctuation in U+2010–U+2027 or U+2030–U+205E (dashes, quotation marks, ellipsis). Each of
    /// these is NFC_Quick_Check=Yes with canonical combining class 0, and none composes with a
    /// neighbour, so a string of them is its own NFC. Vietnamese text in NFC takes this path; text
    /// with any other scalar is normalized to be sure.
    public static func isQuickNFC(_ text: String) -> Bool {
        // One pass over the UTF-8 bytes (a String's are always valid), without decoding scalars:
        // below U+0300 is a byte below 0xCC (ASCII, a lead C2–CB, or a continuation byte);
        // U+1E00–U+1EFF is E1 B8–BB xx; U+2010–U+2027 is E2 80 90–A7; U+2030–U+205E is E2 80 B0–BF
        // or E2 81 80–9E.
        var bytes = text.utf8.makeIterator()
        while let byte = bytes.next() {
            if byte < 0xCC { continue }
            guard let second = bytes.next(), let third = bytes.next() else { return false }
            switch (byte, second) {
            case (0xE1, 0xB8...0xBB): continue
            case (0xE2, 0x80) where (0x90...0xA7).contains(third) || (0xB0...0xBF).contains(third): continue
            case (0xE2, 0x81) where third <= 0x9E: continue
            default: return false
            }
        }
        return true
    }

    /// Whether `text` is certainly in NFC without normalizing it: every scalar is below U+0300, the
    /// first combining mark, so nothing can compose or reorder. (Vietnamese in NFC uses precomposed
    /// letters, most above U+0300, so it takes the slow path.)
    public static func isTriviallyNFC(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 < 0xCC }
    }

    /// Whether `text` is already what ``validated(_:what:maximumLength:)`` would return: in NFC, not
    /// empty, no surrounding white space, no control characters but line breaks and tabs, not too long.
    /// Cheaper than validating: it allocates nothing for text that is trivially NFC.
    public static func isCanonical(_ text: String, maximumLength: Int) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
              !first.properties.isWhitespace, !last.properties.isWhitespace else { return false }
        guard text.utf8.count <= maximumBytes else { return false }
        for byte in text.utf8 where (byte < 0x20 && byte != 0x0A && byte != 0x09) || byte == 0x7F { return false }
        // Each character holds at least one byte: a text of no more bytes than the limit is within it.
        if text.utf8.count > maximumLength, text.unicodeScalars.count > maximumLength, text.count > maximumLength { return false }
        return isNFC(text)
    }

    /// Normalizes and checks a piece of free text.
    ///
    /// - Parameters:
    ///   - text: the text as typed.
    ///   - what: how to name the text in an error, e.g. `"finding text"`.
    ///   - maximumLength: the most characters (extended grapheme clusters) allowed.
    /// - Returns: the text in NFC, with surrounding white space removed.
    /// - Throws: ``CoreError/Code/invalidText`` when it is empty, too long, or holds control characters
    ///   other than line breaks and tabs.
    public static func validated(_ text: String, what: String, maximumLength: Int = defaultMaximumLength) throws(CoreError) -> String {
        // Most text arrives already canonical: checked without Foundation's normalizing and trimming.
        if isCanonical(text, maximumLength: maximumLength) { return text }
        let normalized = nfc(text).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !normalized.isEmpty else {
            throw CoreError(.invalidText, "\(what) is empty")
        }
        guard normalized.count <= maximumLength else {
            throw CoreError(.invalidText, "\(what) is \(normalized.count) characters long; the limit is \(maximumLength)")
        }
        guard normalized.utf8.count <= maximumBytes else {
            throw CoreError(.invalidText, "\(what) takes \(normalized.utf8.count) bytes; the limit is \(maximumBytes)")
        }
        if normalized.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F }) {
            throw CoreError(.invalidText, "\(what) contains a control character")
        }
        return normalized
    }
}

extension StringProtocol {
    /// At most `count` Unicode scalars of the text, for quoting it in an error message: bounded in
    /// bytes (at most 4 per scalar) even when one character carries thousands of combining marks.
    public func excerpt(_ count: Int) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: unicodeScalars.prefix(count))
        return String(scalars)
    }
}

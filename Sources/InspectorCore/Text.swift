import Foundation

/// The text rules of InspectorSync: Unicode NFC, no control characters, bounded length.
public enum Text {
    /// The most characters a text value, a finding or a reason may hold unless a field says less.
    public static let defaultMaximumLength = 4000

    /// Returns `text` in Unicode Normalization Form C.
    public static func nfc(_ text: String) -> String {
        text.precomposedStringWithCanonicalMapping
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
        let normalized = nfc(text).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !normalized.isEmpty else {
            throw CoreError(.invalidText, "\(what) is empty")
        }
        guard normalized.count <= maximumLength else {
            throw CoreError(.invalidText, "\(what) is \(normalized.count) characters long; the limit is \(maximumLength)")
        }
        if normalized.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F }) {
            throw CoreError(.invalidText, "\(what) contains a control character")
        }
        return normalized
    }
}

import Foundation

/// One typed field of a checklist item, as the plan file declares it.
///
/// Every item has the plan's common fields (`status`, `rating`, `note`); items whose outline asks
/// for figures add typed fields for them.
///
/// ```swift
/// let canonical = try field.normalize(" 12,50 ")   // a decimal field → "12.5"
/// ```
public struct FieldDefinition: Codable, Hashable, Sendable {
    /// The value types a field can have.
    public enum FieldType: String, Codable, Hashable, Sendable, CaseIterable {
        /// Free text in NFC, at most ``FieldDefinition/maxLength`` characters (default 4000).
        case text
        /// One of the closed set ``FieldDefinition/values``.
        case `enum`
        /// A whole number, optionally bounded by ``FieldDefinition/min`` and ``FieldDefinition/max``.
        case integer
        /// A decimal number, optionally bounded.
        case decimal
        /// A percentage from 0 to 100, with at most two decimals.
        case percent
        /// A calendar date, `YYYY-MM-DD`.
        case date

        /// Whether values of this type are numbers in exports.
        public var isNumeric: Bool { self == .integer || self == .decimal || self == .percent }
    }

    /// One allowed value of an enum field.
    public struct EnumValue: Codable, Hashable, Sendable {
        public var id: String
        public var title: String
        public init(id: String, title: String) { self.id = id; self.title = title }
    }

    public var id: String
    public var title: String
    public var type: FieldType
    public var values: [EnumValue]?
    public var min: Decimal?
    public var max: Decimal?
    public var unit: String?
    public var maxLength: Int?

    public init(id: String, title: String, type: FieldType, values: [EnumValue]? = nil,
                min: Decimal? = nil, max: Decimal? = nil, unit: String? = nil, maxLength: Int? = nil) {
        self.id = id
        self.title = title
        self.type = type
        self.values = values
        self.min = min
        self.max = max
        self.unit = unit
        self.maxLength = maxLength
    }

    /// The most digits a number may have, before and after the point together.
    public static let maximumDigits = 30

    /// Validates a value as typed by a person and returns its canonical form.
    ///
    /// Canonical forms: text in NFC without surrounding white space; an enum value's id; integers
    /// without leading zeros or `+`; decimals and percents with `.` as the point (a `,` is accepted on
    /// input, as Vietnamese writes it) and no trailing zeros; dates as `YYYY-MM-DD`.
    ///
    /// - Parameter raw: the value as typed.
    /// - Returns: the canonical value, which is what operations carry.
    /// - Throws: ``CoreError/Code/invalidValue`` or ``CoreError/Code/invalidText`` naming the field and the rule.
    public func normalize(_ raw: String) throws(CoreError) -> String {
        switch type {
        case .text:
            if Text.isCanonical(raw, maximumLength: maxLength ?? Text.defaultMaximumLength) { return raw }
            return try Text.validated(raw, what: "field '\(id)'", maximumLength: maxLength ?? Text.defaultMaximumLength)
        case .enum:
            // Already an id (what every op carries): no trimming, which is Foundation's and slow.
            if let values, values.contains(where: { $0.id == raw }) { return raw }
            let value = raw.trimmingCharacters(in: .whitespaces)
            let allowed = values ?? []
            guard allowed.contains(where: { $0.id == value }) else {
                throw CoreError(.invalidValue, "field '\(id)' takes one of: \(allowed.map(\.id).joined(separator: ", ")); got '\(value.excerpt(40))'")
            }
            return value
        case .integer:
            if let number = Self.canonicalInteger(raw), isWithinBounds(number) { return raw }
            let value = raw.trimmingCharacters(in: .whitespaces)
            guard let canonical = Self.canonicalNumber(value, allowFraction: false) else {
                throw CoreError(.invalidValue, "field '\(id)' takes a whole number; got '\(value.excerpt(40))'")
            }
            try checkBounds(canonical)
            return canonical
        case .decimal, .percent:
            let value = raw.trimmingCharacters(in: .whitespaces)
            guard let canonical = Self.canonicalNumber(value, allowFraction: true) else {
                throw CoreError(.invalidValue, "field '\(id)' takes a number such as 12.5; got '\(value.excerpt(40))'")
            }
            if type == .percent {
                if let point = canonical.firstIndex(of: "."), canonical[canonical.index(after: point)...].count > 2 {
                    throw CoreError(.invalidValue, "field '\(id)' is a percent with at most two decimals; got '\(value.excerpt(40))'")
                }
                let number = Decimal(string: canonical)!
                guard number >= 0, number <= 100 else {
                    throw CoreError(.invalidValue, "field '\(id)' is a percent from 0 to 100; got \(canonical)")
                }
            }
            try checkBounds(canonical)
            return canonical
        case .date:
            return try CalendarDate(iso: raw.trimmingCharacters(in: .whitespaces)).isoString
        }
    }

    /// Whether `number` lies within ``min`` and ``max``.
    private func isWithinBounds(_ number: Int64) -> Bool {
        let value = Decimal(number)
        return (min.map { value >= $0 } ?? true) && (max.map { value <= $0 } ?? true)
    }

    /// The value of `text` when it is already a canonical integer (ASCII digits, an optional `-`, no
    /// leading zero, not `-0`) of at most 18 digits, or nil for anything else (which the full path reads).
    static func canonicalInteger(_ text: String) -> Int64? {
        var utf8 = text.utf8[...]
        let negative = utf8.first == UInt8(ascii: "-")
        if negative { utf8 = utf8.dropFirst() }
        guard (1...18).contains(utf8.count), utf8.first != UInt8(ascii: "0") || utf8.count == 1 else { return nil }
        var value: Int64 = 0
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        if negative && value == 0 { return nil }
        return negative ? -value : value
    }

    private func checkBounds(_ canonical: String) throws(CoreError) {
        let number = Decimal(string: canonical)!
        if let min, number < min {
            throw CoreError(.invalidValue, "field '\(id)' must be at least \(min); got \(canonical)")
        }
        if let max, number > max {
            throw CoreError(.invalidValue, "field '\(id)' must be at most \(max); got \(canonical)")
        }
    }

    /// The canonical text of a number, or nil when `text` is not one.
    package static func canonicalNumber(_ text: String, allowFraction: Bool) -> String? {
        var bytes = Array(text.utf8)
        var negative = false
        if bytes.first == UInt8(ascii: "-") { negative = true; bytes.removeFirst() }
        else if bytes.first == UInt8(ascii: "+") { bytes.removeFirst() }
        let isDigit = { (b: UInt8) in b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        var intPart: [UInt8] = []
        var fracPart: [UInt8] = []
        var seenPoint = false
        for b in bytes {
            if isDigit(b) {
                if seenPoint { fracPart.append(b) } else { intPart.append(b) }
            } else if (b == UInt8(ascii: ".") || b == UInt8(ascii: ",")) && !seenPoint && allowFraction {
                seenPoint = true
            } else {
                return nil
            }
        }
        guard !intPart.isEmpty, !seenPoint || !fracPart.isEmpty else { return nil }
        while intPart.count > 1 && intPart.first == UInt8(ascii: "0") { intPart.removeFirst() }
        while fracPart.last == UInt8(ascii: "0") { fracPart.removeLast() }
        guard intPart.count + fracPart.count <= maximumDigits else { return nil }
        var result = String(decoding: intPart, as: UTF8.self)
        if !fracPart.isEmpty { result += "." + String(decoding: fracPart, as: UTF8.self) }
        if negative && result != "0" { result = "-" + result }
        return result
    }
}

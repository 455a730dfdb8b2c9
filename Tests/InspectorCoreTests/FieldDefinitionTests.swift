import Foundation
import InspectorCore
import PropertyBased
import Testing

@Suite struct FieldDefinitionTests {
    static let text = FieldDefinition(id: "note", title: "Ghi chú", type: .text, maxLength: 12)
    static let status = FieldDefinition(id: "status", title: "Trạng thái", type: .enum,
                                        values: [.init(id: "not_started", title: "Chưa bắt đầu"), .init(id: "done", title: "Đã hoàn thành")])
    static let integer = FieldDefinition(id: "staff_count", title: "Số", type: .integer)
    static let decimal = FieldDefinition(id: "reward_spending_total", title: "Tổng", type: .decimal)
    static let percent = FieldDefinition(id: "fund_percent", title: "Tỷ lệ", type: .percent)
    static let date = FieldDefinition(id: "visit", title: "Ngày", type: .date)

    // MARK: text

    @Test func textIsStoredInNFCWithoutSurroundingWhiteSpace() throws {
        let decomposed = "  Mu\u{031B}o\u{031B}\u{0300}ng Lay\n"
        let value = try Self.text.normalize(decomposed)
        #expect(scalars(value) == scalars("M\u{01B0}\u{1EDD}ng Lay"))
        #expect(value.unicodeScalars.count == 9)
    }

    @Test func textKeepsInnerLineBreaksAndTabs() throws {
        #expect(try Self.text.normalize("a\nb\tc") == "a\nb\tc")
    }

    @Test(arguments: ["", "   ", "\n\t "])
    func emptyTextIsRefused(raw: String) {
        let error = coreError { _ = try Self.text.normalize(raw) }
        #expect(error?.code == .invalidText)
        #expect(error?.message.contains("'note'") == true)
        #expect(error?.message.contains("empty") == true)
    }

    @Test func textLengthCountsCharactersAfterNFC() throws {
        // 12 characters, though the decomposed input has more scalars.
        let twelve = "Mu\u{031B}o\u{031B}\u{0300}ng Lay ab"
        #expect(twelve.unicodeScalars.count > 12)
        #expect(try Self.text.normalize(twelve).count == 12)
        let error = coreError { _ = try Self.text.normalize("Mường Lay abc") }
        #expect(error?.code == .invalidText)
        #expect(error?.message.contains("13 characters") == true)
        #expect(error?.message.contains("12") == true)
    }

    @Test func defaultTextLimitIs4000() throws {
        let field = FieldDefinition(id: "free", title: "x", type: .text)
        #expect(try field.normalize(String(repeating: "ư", count: 4000)).count == 4000)
        #expect(coreError { _ = try field.normalize(String(repeating: "ư", count: 4001)) }?.code == .invalidText)
    }

    @Test(arguments: ["a\u{0}b", "a\u{7}b", "a\u{1B}[31m", "a\u{7F}b", "a\rb"])
    func controlCharactersAreRefused(raw: String) {
        let error = coreError { _ = try Self.text.normalize(raw) }
        #expect(error?.code == .invalidText)
        #expect(error?.message.contains("control character") == true)
    }

    // MARK: enum

    @Test func enumTakesOneOfItsValues() throws {
        #expect(try Self.status.normalize("done") == "done")
        #expect(try Self.status.normalize(" not_started ") == "not_started")
    }

    @Test(arguments: ["Done", "finished", "", "done\n", "đã xong"])
    func enumRefusesOtherValues(raw: String) {
        let error = coreError { _ = try Self.status.normalize(raw) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("'status'") == true)
        #expect(error?.message.contains("not_started, done") == true)
    }

    // MARK: integer

    @Test(arguments: [("42", "42"), ("+42", "42"), ("007", "7"), ("0", "0"), ("-0", "0"), ("-12", "-12"), (" 5 ", "5"),
                      ("123456789012345678901234567890", "123456789012345678901234567890")])
    func integerCanonicalForm(raw: String, canonical: String) throws {
        #expect(try Self.integer.normalize(raw) == canonical)
    }

    @Test(arguments: ["", "-", "+", "1.5", "1,0", "1.", "1e3", "0x10", "١٢", "1 000", "--1", "12a",
                      "1234567890123456789012345678901"])
    func integerRefusesNonIntegers(raw: String) {
        let error = coreError { _ = try Self.integer.normalize(raw) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("'staff_count'") == true)
    }

    // MARK: decimal

    @Test(arguments: [("12,50", "12.5"), ("12.50", "12.5"), ("12", "12"), ("0,0", "0"), ("-0.0", "0"), ("0012.0100", "12.01"),
                      ("-3,25", "-3.25"), ("  1500000 ", "1500000"), ("+7.0", "7")])
    func decimalCanonicalForm(raw: String, canonical: String) throws {
        #expect(try Self.decimal.normalize(raw) == canonical)
    }

    @Test(arguments: ["", ".5", ",5", "3.", "1.2.3", "1,2,3", "1.2,3", "1e5", "12 5", "NaN", "∞", "12,5 đ"])
    func decimalRefusesNonNumbers(raw: String) {
        let error = coreError { _ = try Self.decimal.normalize(raw) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("'reward_spending_total'") == true)
    }

    /// Normalizing twice changes nothing, and the canonical text denotes the same number.
    @Test func decimalNormalizationIsIdempotentAndExact() async {
        let digits = Gen.number.string(of: 1...12)
        await propertyCheck(count: 300, input: digits, digits, Gen.bool, Gen.bool) { whole, fraction, comma, negative throws in
            let raw = (negative ? "-" : "") + whole + (comma ? "," : ".") + fraction
            let canonical = try Self.decimal.normalize(raw)
            #expect(try Self.decimal.normalize(canonical) == canonical)
            #expect(!canonical.contains(","))
            #expect(!canonical.hasSuffix("0") || !canonical.contains("."))
            let parsed = Decimal(string: raw.replacingOccurrences(of: ",", with: "."), locale: Locale(identifier: "en_US_POSIX"))
            #expect(Decimal(string: canonical, locale: Locale(identifier: "en_US_POSIX")) == parsed, "\(raw) → \(canonical)")
        }
    }

    // MARK: percent

    @Test(arguments: [("0", "0"), ("100", "100"), ("100.00", "100"), ("12,5", "12.5"), ("33,33", "33.33"), ("12.340", "12.34"),
                      ("0.01", "0.01"), ("-0", "0")])
    func percentCanonicalForm(raw: String, canonical: String) throws {
        #expect(try Self.percent.normalize(raw) == canonical)
    }

    @Test(arguments: ["100.01", "101", "-0.01", "-1", "1000"])
    func percentOutOfRangeIsRefused(raw: String) {
        let error = coreError { _ = try Self.percent.normalize(raw) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("from 0 to 100") == true)
    }

    @Test(arguments: ["12.345", "0.001", "99,999"])
    func percentWithMoreThanTwoDecimalsIsRefused(raw: String) {
        let error = coreError { _ = try Self.percent.normalize(raw) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("at most two decimals") == true)
    }

    // MARK: date

    @Test func dateTakesISODates() throws {
        #expect(try Self.date.normalize("2024-06-20") == "2024-06-20")
        #expect(try Self.date.normalize(" 2024-02-29 ") == "2024-02-29")
    }

    @Test(arguments: ["2024-02-30", "20/06/2024", "2024-6-20", "", "2023-02-29"])
    func dateRefusesOtherText(raw: String) {
        #expect(coreError { _ = try Self.date.normalize(raw) }?.code == .invalidValue)
    }

    // MARK: bounds

    @Test func integerBounds() throws {
        let field = FieldDefinition(id: "trainees", title: "x", type: .integer, min: 1, max: 10)
        #expect(try field.normalize("1") == "1")
        #expect(try field.normalize("10") == "10")
        let low = coreError { _ = try field.normalize("0") }
        #expect(low?.code == .invalidValue)
        #expect(low?.message.contains("at least 1") == true)
        #expect(low?.message.contains("'trainees'") == true)
        let high = coreError { _ = try field.normalize("11") }
        #expect(high?.code == .invalidValue)
        #expect(high?.message.contains("at most 10") == true)
    }

    @Test func decimalBounds() throws {
        let field = FieldDefinition(id: "amount", title: "x", type: .decimal, min: Decimal(string: "0.5")!, max: Decimal(string: "2.25")!)
        #expect(try field.normalize("0,5") == "0.5")
        #expect(try field.normalize("2.25") == "2.25")
        #expect(coreError { _ = try field.normalize("0.49") }?.code == .invalidValue)
        #expect(coreError { _ = try field.normalize("2.2501") }?.code == .invalidValue)
        #expect(coreError { _ = try field.normalize("-1") }?.code == .invalidValue)
    }

    @Test func planIntegerFieldsRefuseNegativeCounts() throws {
        let item = try builtInPlan.item("II.4")
        let field = try builtInPlan.field("collectives_state", of: item)
        #expect(try field.normalize("12") == "12")
        #expect(coreError { _ = try field.normalize("-1") }?.code == .invalidValue)
    }

    @Test func numericTypes() {
        #expect(FieldDefinition.FieldType.allCases.filter(\.isNumeric) == [.integer, .decimal, .percent])
    }

    /// The integer fast path (a value already canonical, within bounds, is returned as it is) gives
    /// what the full path gives, for every kind of input near its edges: leading zeros, `-0`, signs,
    /// white space, 18 and 19 digits, the bounds themselves.
    @Test func theIntegerFastPathAgreesWithTheFullPath() throws {
        let bounded = FieldDefinition(id: "staff_count", title: "Số", type: .integer, min: -5, max: 1000)
        let cases = ["0", "-0", "00", "7", "-5", "-6", "1000", "1001", "0100", "+7", " 7", "7 ", "1e3", "", "-",
                     "999999999999999999", "9999999999999999999", "-999999999999999999", "12a", "١٢", "1,0", "1.0"]
        var random = SplitMix64(seed: 1181)
        let generated = (0..<500).map { _ in
            let digits = Int(random.next() % 20) + 1
            let sign = random.next() % 3 == 0 ? "-" : ""
            return sign + String((0..<digits).map { _ in Character(String(random.next() % 10)) })
        }
        for field in [Self.integer, bounded] {
            for raw in cases + generated {
                let fast: Result<String, CoreError> = Result { () throws(CoreError) in try field.normalize(raw) }
                // The full path, as `normalize` takes it when the fast path declines.
                let full: Result<String, CoreError> = Result { () throws(CoreError) in
                    let value = raw.trimmingCharacters(in: .whitespaces)
                    guard let canonical = FieldDefinition.canonicalNumber(value, allowFraction: false) else {
                        throw CoreError(.invalidValue, "not a number")
                    }
                    let number = Decimal(string: canonical)!
                    if let min = field.min, number < min { throw CoreError(.invalidValue, "below") }
                    if let max = field.max, number > max { throw CoreError(.invalidValue, "above") }
                    return canonical
                }
                #expect((try? fast.get()) == (try? full.get()), "'\(raw)' on \(field.id) (min \(String(describing: field.min)))")
            }
        }
        #expect(try Self.status.normalize("done") == "done")
        #expect(coreError { _ = try Self.status.normalize("xong") }?.code == .invalidValue)
    }
}

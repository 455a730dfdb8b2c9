import InspectorCore
import Testing

@Suite struct OpValidationTests {
    static let t = ts(1_718_845_323_456, 0, "dev-a")
    static let units = Set(planUnits.map(\.id))

    static func set(unit: String = "muong-lay", item: String = "II.5", field: String = "fund_percent", value: String = "12.5") -> Op {
        .set(device: "dev-a", sequence: 1, timestamp: t, unit: unit, item: item, field: field, value: value)
    }
    static func add(item: String? = "II.5", text: String = "Chưa trích lập quỹ") -> Op {
        .findingAdd(device: "dev-a", sequence: 1, timestamp: t, unit: "muong-lay", item: item, kind: .shortcoming, text: text)
    }
    static func retract(finding: String = "dev-b/3", reason: String = "nhầm đơn vị") -> Op {
        .findingRetract(device: "dev-a", sequence: 1, timestamp: t, unit: "muong-lay", item: nil, finding: finding, reason: reason)
    }

    @Test func validOperationsPass() throws {
        for op in [Self.set(), Self.set(item: "II.4", field: "status", value: "done"), Self.set(item: "I.1", field: "note", value: "Mường Lay"),
                   Self.add(), Self.add(item: nil), Self.retract()] {
            try op.validateShape()
            try op.validate(against: builtInPlan, unitIDs: Self.units)
        }
        #expect(Self.add().finding == "dev-a/1")
        #expect(Op.findingID(device: "tablet-3", sequence: 42) == "tablet-3/42")
    }

    static func variant(_ change: (inout Op) -> Void, from op: Op = set()) -> Op {
        var copy = op
        change(&copy)
        return copy
    }

    static let malformed: [(String, Op)] = [
        ("device id", variant { $0.device = "Dev A"; $0.timestamp.device = "Dev A" }),
        ("device id", variant { $0.device = ""; $0.timestamp.device = "" }),
        ("sequence", variant { $0.sequence = 0 }),
        ("sequence", variant { $0.sequence = -3 }),
        ("timestamp device", variant { $0.timestamp.device = "dev-b" }),
        ("negative", variant { $0.timestamp.millis = -1 }),
        ("negative", variant { $0.timestamp.counter = -1 }),
        ("unit id", variant { $0.unit = "Mường Lay" }),
        ("item and a field", variant { $0.item = nil }),
        ("item and a field", variant { $0.field = nil }),
        ("item and a field", variant { $0.field = "" }),
        ("no finding", variant { $0.finding = "dev-a/1" }),
        ("no finding", variant { $0.findingKind = .observation }),
        ("finding kind", variant({ $0.findingKind = nil }, from: add())),
        ("device/sequence", variant({ $0.finding = "dev-a/2" }, from: add())),
        ("device/sequence", variant({ $0.finding = nil }, from: add())),
        ("no field", variant({ $0.field = "status" }, from: add())),
        ("finding id", variant({ $0.finding = nil }, from: retract())),
        ("finding id", variant({ $0.finding = "" }, from: retract())),
        ("no field or kind", variant({ $0.field = "note" }, from: retract())),
        ("no field or kind", variant({ $0.findingKind = .recommendation }, from: retract())),
        ("value is empty", variant { $0.value = "" }),
        ("NFC", variant({ $0.value = "Mu\u{031B}o\u{031B}\u{0300}ng" }, from: add())),
    ]

    @Test(arguments: 0..<malformed.count)
    func invalidShapesAreMalformedOperations(index: Int) {
        let (why, op) = Self.malformed[index]
        let error = coreError { try op.validateShape() }
        #expect(error?.code == .malformedOperation)
        #expect(error?.message.contains(why) == true, "\(error?.message ?? "") should mention '\(why)'")
        // validate(against:) checks the shape first.
        #expect(coreError { try op.validate(against: builtInPlan, unitIDs: Self.units) }?.code == .malformedOperation)
    }

    @Test func messageNamesTheOperation() {
        let error = coreError { try Self.variant { $0.sequence = 0 }.validateShape() }
        #expect(error?.message.hasPrefix("operation dev-a#0:") == true)
    }

    @Test func unknownIDsAreNamed() {
        let unit = coreError { try Self.set(unit: "muong-xyz").validate(against: builtInPlan, unitIDs: Self.units) }
        #expect(unit?.code == .unknownUnit)
        #expect(unit?.message.contains("muong-xyz") == true)
        #expect(coreError { try Self.set(item: "II.9").validate(against: builtInPlan, unitIDs: Self.units) }?.code == .unknownItem)
        #expect(coreError { try Self.set(field: "colour").validate(against: builtInPlan, unitIDs: Self.units) }?.code == .unknownField)
        // A field of another item is unknown here.
        #expect(coreError { try Self.set(item: "II.4", field: "fund_percent").validate(against: builtInPlan, unitIDs: Self.units) }?.code == .unknownField)
        #expect(coreError { try Self.add(item: "II.9").validate(against: builtInPlan, unitIDs: Self.units) }?.code == .unknownItem)
    }

    @Test(arguments: ["101", "12.345", "abc", "-1"])
    func invalidValuesAreRefused(value: String) {
        #expect(coreError { try Self.set(value: value).validate(against: builtInPlan, unitIDs: Self.units) }?.code == .invalidValue)
    }

    @Test(arguments: [("II.5", "fund_percent", "12,5"), ("II.5", "fund_percent", "12.50"), ("II.5", "reward_spending_total", "007"),
                      ("II.4", "collectives_state", "+3"), ("II.4", "status", " done"), ("I.1", "note", " padded ")])
    func nonCanonicalValuesAreRefused(item: String, field: String, value: String) {
        let error = coreError { try Self.set(item: item, field: field, value: value).validate(against: builtInPlan, unitIDs: Self.units) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("canonical") == true)
        #expect(error?.message.contains("'\(field)'") == true)
    }

    @Test func findingTextMustBeTrimmedAndNonEmpty() {
        let padded = coreError { try Self.add(text: " có khoảng trắng ").validate(against: builtInPlan, unitIDs: Self.units) }
        #expect(padded?.code == .invalidText)
        #expect(padded?.message.contains("white space") == true)
        let control = coreError { try Self.retract(reason: "a\u{7}b").validate(against: builtInPlan, unitIDs: Self.units) }
        #expect(control?.code == .invalidText)
        #expect(control?.message.contains("retraction reason") == true)
        let long = coreError { try Self.add(text: String(repeating: "a", count: 4001)).validate(against: builtInPlan, unitIDs: Self.units) }
        #expect(long?.code == .invalidText)
    }
}

import Foundation
import InspectorCore
import Testing

/// Malformed plan files, each built by changing one thing in the built-in plan.
@Suite struct PlanDecodingTests {
    typealias Object = [String: Any]

    /// The built-in plan as a JSON object, changed by `change`, as bytes.
    static func planData(_ change: (inout Object) -> Void = { _ in }) -> Data {
        var json = try! JSONSerialization.jsonObject(with: builtInPlan.encoded()) as! Object
        change(&json)
        return try! JSONSerialization.data(withJSONObject: json)
    }

    static func edit(_ json: inout Object, _ key: String, _ change: (inout [Object]) -> Void) {
        var array = json[key] as! [Object]
        change(&array)
        json[key] = array
    }

    /// Decodes `data`, expects `malformed_plan`, and returns the message.
    static func refusal(_ data: Data, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let error = coreError({ _ = try Plan.decode(from: data) }, sourceLocation: sourceLocation)
        #expect(error?.code == .malformedPlan, sourceLocation: sourceLocation)
        return error?.message ?? ""
    }

    @Test func theUnchangedPlanDecodes() throws {
        let plan = try Plan.decode(from: Self.planData())
        #expect(plan == builtInPlan)
    }

    @Test func encodedPlanRoundTrips() throws {
        let plan = try Plan.decode(from: builtInPlan.encoded())
        #expect(plan == builtInPlan)
        #expect(plan.encoded() == builtInPlan.encoded())
    }

    @Test(arguments: ["", "not json", "{", "[1,2]", "null", "{\"format\": }"])
    func notJSONIsRefused(text: String) {
        let message = Self.refusal(Data(text.utf8))
        #expect(message.hasPrefix("plan file"))
    }

    @Test func bytesThatAreNotJSONAreNamedAsSuch() {
        #expect(Self.refusal(Data("not json".utf8)).contains("JSON"))
        #expect(Self.refusal(Data([0xFF, 0xFE, 0x00])).contains("JSON"))
    }

    @Test func missingTopLevelKeyIsNamed() {
        let message = Self.refusal(Self.planData { $0["reference"] = nil })
        #expect(message.contains("missing key 'reference'"), "\(message)")
    }

    @Test func missingNestedKeyIsNamedWithItsPath() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "units") { $0[1]["kind"] = nil } })
        #expect(message.contains("'kind'") && message.contains("units[1]"), "\(message)")
        let dates = Self.refusal(Self.planData { json in
            var dates = json["dates"] as! Object
            dates["noticeWorkingDays"] = nil
            json["dates"] = dates
        })
        #expect(dates.contains("'noticeWorkingDays'") && dates.contains("dates"), "\(dates)")
    }

    @Test func wrongTypeIsNamedWithItsPath() {
        let message = Self.refusal(Self.planData { json in
            var dates = json["dates"] as! Object
            dates["noticeWorkingDays"] = "15"
            json["dates"] = dates
        })
        #expect(message.contains("dates.noticeWorkingDays"), "\(message)")
    }

    @Test func unknownFieldTypeIsNamed() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "commonFields") { $0[2]["type"] = "money" } })
        #expect(message.contains("commonFields[2].type"), "\(message)")
    }

    @Test func wrongFormatTagIsRefused() {
        let message = Self.refusal(Self.planData { $0["format"] = "inspectorsync-plan/2" })
        #expect(message.contains("format") && message.contains("inspectorsync-plan/2") && message.contains(Plan.formatTag), "\(message)")
    }

    @Test func invalidPlanIDIsRefused() {
        #expect(Self.refusal(Self.planData { $0["id"] = "KH 1181" }).contains("id 'KH 1181'"))
    }

    @Test func duplicateUnitIDIsRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "units") { $0[1]["id"] = "muong-ang" } })
        #expect(message.contains("units[1].id 'muong-ang' is used twice"), "\(message)")
    }

    @Test func invalidUnitIDIsRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "units") { $0[2]["id"] = "Sở Y tế" } })
        #expect(message.contains("units[2].id"), "\(message)")
    }

    @Test func unknownParentUnitIsRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "units") { $0[0]["parent"] = "dien-bien" } })
        #expect(message.contains("units[0].parent 'dien-bien'"), "\(message)")
    }

    @Test func emptyUnitsAreRefused() {
        #expect(Self.refusal(Self.planData { $0["units"] = [Object]() }).contains("units is empty"))
    }

    @Test func duplicateItemIDIsRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "items") { $0[1]["id"] = "I.1" } })
        #expect(message.contains("items[1].id 'I.1' is used twice"), "\(message)")
    }

    @Test func invalidItemIDIsRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "items") { $0[3]["id"] = "II 2" } })
        #expect(message.contains("items[3].id 'II 2'"), "\(message)")
    }

    @Test func enumWithoutValuesIsRefused() {
        let empty = Self.refusal(Self.planData { Self.edit(&$0, "commonFields") { $0[0]["values"] = [Object]() } })
        #expect(empty.contains("commonFields[0] is an enum without values"), "\(empty)")
        let missing = Self.refusal(Self.planData { Self.edit(&$0, "commonFields") { $0[1]["values"] = nil } })
        #expect(missing.contains("commonFields[1] is an enum without values"), "\(missing)")
    }

    @Test func valuesOnANonEnumAreRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "commonFields") { $0[2]["values"] = [["id": "x", "title": "y"]] } })
        #expect(message.contains("commonFields[2] has values but is not an enum"), "\(message)")
    }

    @Test(arguments: [("issued", "2024-02-30"), ("issued", "19/03/2024"), ("dates.inspectionFrom", "2024-04-31"),
                      ("dates.inspectionTo", "2024-9-30"), ("dates.documentsFrom", ""), ("dates.selfInspectionReportDue", "2024-11-31")])
    func badDateIsRefusedWithItsKey(key: String, value: String) {
        let message = Self.refusal(Self.planData { json in
            if key.hasPrefix("dates.") {
                var dates = json["dates"] as! Object
                dates[String(key.dropFirst(6))] = value
                json["dates"] = dates
            } else {
                json[key] = value
            }
        })
        #expect(message.contains("\(key) '\(value)' is not a date"), "\(message)")
    }

    @Test func badHolidayIsRefusedWithItsIndex() {
        let message = Self.refusal(Self.planData { json in
            var holidays = json["holidays"] as! [String]
            holidays[2] = "2024-02-30"
            json["holidays"] = holidays
        })
        #expect(message.contains("holidays[2] '2024-02-30'"), "\(message)")
    }

    @Test func negativeDayCountsAreRefused() {
        let message = Self.refusal(Self.planData { json in
            var dates = json["dates"] as! Object
            dates["reportDaysBefore"] = -5
            json["dates"] = dates
        })
        #expect(message.contains("must not be negative"), "\(message)")
    }

    @Test func unknownSectionIsRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "items") { $0[0]["section"] = "IV" } })
        #expect(message.contains("items[0].section 'IV' is not one of the sections"), "\(message)")
    }

    @Test func commonFieldRedefinedIsRefused() {
        let message = Self.refusal(Self.planData { json in
            Self.edit(&json, "items") { items in
                var fields = items[13]["fields"] as! [Object]
                fields.append(["id": "rating", "title": "Đánh giá lại", "type": "text"])
                items[13]["fields"] = fields
            }
        })
        #expect(message.contains("items[13] redefines the common field 'rating'"), "\(message)")
    }

    @Test func missingCommonFieldIsRefused() {
        let message = Self.refusal(Self.planData { Self.edit(&$0, "commonFields") { $0.removeLast() } })
        #expect(message.contains("commonFields lacks the 'note' field"), "\(message)")
    }

    @Test func duplicateFieldIDIsRefused() {
        let message = Self.refusal(Self.planData { json in
            Self.edit(&json, "items") { items in
                var fields = items[13]["fields"] as! [Object]
                fields[1]["id"] = fields[0]["id"]
                items[13]["fields"] = fields
            }
        })
        #expect(message.contains("items[13].fields[1].id 'reward_spending_total' is used twice"), "\(message)")
    }

    @Test func minAboveMaxIsRefused() {
        let message = Self.refusal(Self.planData { json in
            Self.edit(&json, "items") { items in
                var fields = items[13]["fields"] as! [Object]
                fields[0]["min"] = 10
                fields[0]["max"] = 1
                items[13]["fields"] = fields
            }
        })
        #expect(message.contains("items[13].fields[0] has min greater than max"), "\(message)")
    }

    @Test func textIsNormalizedToNFCOnLoad() throws {
        let decomposed = "Ke\u{0302}\u{0301} hoa\u{0323}ch"
        let data = Self.planData { json in
            json["title"] = decomposed
            Self.edit(&json, "units") { $0[1]["name"] = "UBND thi\u{0323} xa\u{0303} Mu\u{031B}o\u{031B}\u{0300}ng Lay" }
        }
        let plan = try Plan.decode(from: data)
        #expect(scalars(plan.title) == scalars(decomposed.precomposedStringWithCanonicalMapping))
        #expect(scalars(plan.title) != scalars(decomposed))
        #expect(scalars(plan.units[1].name) == scalars("UBND thị xã Mường Lay".precomposedStringWithCanonicalMapping))
    }

    @Test func lookupsNameWhatExists() throws {
        let missingItem = coreError { _ = try builtInPlan.item("II.9") }
        #expect(missingItem?.code == .unknownItem)
        #expect(missingItem?.message.contains("II.9") == true)
        #expect(missingItem?.message.contains("II.6.dd") == true)
        let item = try builtInPlan.item("II.5")
        let missingField = coreError { _ = try builtInPlan.field("colour", of: item) }
        #expect(missingField?.code == .unknownField)
        #expect(missingField?.message.contains("status, rating, note, reward_spending_total, fund_source, fund_percent") == true)
        #expect(builtInPlan.itemIndex("I.1") == 0)
        #expect(builtInPlan.itemIndex("nope") == Int.max)
    }
}

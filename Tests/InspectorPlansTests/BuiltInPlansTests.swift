import Foundation
import InspectorCore
import InspectorPlans
import Testing

@Suite struct BuiltInPlansTests {
    static let plan: Plan = try! BuiltInPlans.current()

    /// The plan file in the source tree, read as raw bytes (the loader normalizes text, so NFC must be
    /// checked on the file itself).
    static let sourceFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/InspectorPlans/Resources/kh-1181-2024.json")

    static let expectedItems = [
        "I.1", "I.2", "II.1", "II.2.a.1", "II.2.a.2", "II.2.a.3", "II.2.a.4", "II.2.a.5", "II.2.a.6", "II.2.a.7",
        "II.2.b", "II.3", "II.4", "II.5", "II.6.a", "II.6.b", "II.6.c", "II.6.d", "II.6.dd", "II.6.e", "II.6.g",
        "II.6.h", "II.6.i", "III.1", "III.2", "III.3",
    ]

    @Test func currentLoads() throws {
        let plan = try BuiltInPlans.current()
        #expect(plan.id == BuiltInPlans.currentID)
        #expect(plan.id == "kh-1181-2024")
        #expect(plan.format == Plan.formatTag)
        #expect(plan.reference == "1181/KH-HĐTĐKT")
        #expect(plan.issued == "2024-03-19")
    }

    @Test func unitsAreTheEightDirectlyInspectedBodies() {
        #expect(Self.plan.units.map(\.id) == ["muong-ang", "muong-lay", "so-y-te", "hoi-lhpn", "vksnd", "xi-mang-dien-bien",
                                              "thuy-nong-dien-bien", "hoi-luat-gia"])
        #expect(Self.plan.units.allSatisfy { $0.kind == .direct && $0.parent == nil })
        #expect(Self.plan.units.first { $0.id == "muong-lay" }?.name == "UBND thị xã Mường Lay")
        #expect(Self.plan.units.first { $0.id == "hoi-luat-gia" }?.name == "Hội Luật Gia")
    }

    @Test func itemsFollowTheReportOutline() {
        #expect(Self.plan.items.map(\.id) == Self.expectedItems)
        #expect(Self.plan.sections.map(\.id) == ["I", "II", "III"])
        #expect(Self.plan.items.allSatisfy { $0.id.hasPrefix($0.section + ".") })
        #expect(Self.plan.items.allSatisfy { !$0.title.isEmpty && !$0.guidance.isEmpty })
    }

    @Test func everyItemHasStatusRatingAndNote() throws {
        #expect(Self.plan.commonFields.map(\.id) == ["status", "rating", "note"])
        for item in Self.plan.items {
            let fields = Self.plan.fields(of: item)
            #expect(Array(fields.prefix(3).map(\.id)) == ["status", "rating", "note"], "item \(item.id)")
            #expect(try Self.plan.field("status", of: item).type == .enum)
            #expect(try Self.plan.field("rating", of: item).type == .enum)
            #expect(try Self.plan.field("note", of: item).type == .text)
        }
        let status = try Self.plan.field("status", of: Self.plan.item("I.1"))
        #expect(status.values?.map(\.id) == ["not_started", "in_progress", "done", "not_applicable"])
        let rating = try Self.plan.field("rating", of: Self.plan.item("I.1"))
        #expect(rating.values?.map(\.id) == ["tot", "kha", "trung_binh", "yeu"])
        #expect(rating.values == Self.plan.ratings)
    }

    @Test func itemII4HasTypedRewardFigures() throws {
        let item = try Self.plan.item("II.4")
        let types = Dictionary(uniqueKeysWithValues: item.fields.map { ($0.id, $0.type) })
        for id in ["collectives_state", "collectives_government", "collectives_ministry_province", "collectives_local",
                   "individuals_state", "individuals_government", "individuals_ministry_province", "individuals_local"] {
            #expect(types[id] == .integer, "II.4 \(id)")
            #expect(try Self.plan.field(id, of: item).min == 0)
        }
        #expect(types["share_small_collectives"] == .percent)
        #expect(types["share_workers_farmers"] == .percent)
    }

    @Test func itemII5HasTypedFundFigures() throws {
        let item = try Self.plan.item("II.5")
        #expect(item.fields.map(\.id) == ["reward_spending_total", "fund_source", "fund_percent"])
        let total = try Self.plan.field("reward_spending_total", of: item)
        #expect(total.type == .decimal)
        #expect(total.min == 0)
        #expect(total.unit == "VND")
        #expect(try Self.plan.field("fund_source", of: item).type == .text)
        #expect(try Self.plan.field("fund_percent", of: item).type == .percent)
        #expect(try total.normalize("1500000,50") == "1500000.5")
        #expect(throws: CoreError.self, "a thousands separator is not a decimal point") { try total.normalize("12.500.000") }
    }

    @Test func keyDates() throws {
        let dates = Self.plan.dates
        #expect(dates.noticeWorkingDays == 15)
        #expect(dates.reportDaysBefore == 5)
        #expect(dates.selfInspectionReportDue == "2024-11-10")
        #expect(dates.documentsFrom == "2023-01-01")
        #expect(dates.inspectionFrom == "2024-04-01")
        #expect(dates.inspectionTo == "2024-09-30")
        // The self-inspection deadline falls on a Sunday (the notes explain the consequence).
        #expect(try CalendarDate(iso: dates.selfInspectionReportDue).isoWeekday == 7)
        #expect(Self.plan.holidayDates.contains(try CalendarDate(iso: "2024-09-02")))
        #expect(Self.plan.holidayDates.count == Self.plan.holidays.count)
    }

    @Test func digitalTransformationDiscrepancyIsRecorded() throws {
        let discrepancies = Self.plan.notes.filter { $0.topic == "discrepancy" }
        #expect(discrepancies.contains { $0.text.contains("2022-2030") && $0.text.contains("2023-2030") && $0.text.contains("Chuyển đổi số") })
        let digital = Self.plan.items.filter { $0.id.hasPrefix("II.2.a.") && $0.title.contains("Chuyển đổi số") }
        #expect(digital.map(\.id) == ["II.2.a.4"])
        #expect(digital.first?.title.contains("2022-2030") == true)
        #expect(digital.first?.title.contains("2023-2030") == false)
    }

    @Test func sourceFileTextIsNFC() throws {
        let data = try Data(contentsOf: Self.sourceFile)
        let text = try #require(String(data: data, encoding: .utf8))
        #expect(text.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars))
        // And it does hold Vietnamese, so the check above is not vacuous.
        #expect(text.unicodeScalars.contains { $0.value == 0x1EDD })  // ờ
        // The file is the plan that loads.
        #expect(try Plan.decode(from: data) == Self.plan)
    }

    @Test func loadedTextIsNFC() {
        var texts = [Self.plan.title, Self.plan.issuer] + Self.plan.units.map(\.name) + Self.plan.sections.map(\.title)
        for item in Self.plan.items {
            texts += [item.title, item.guidance] + item.fields.map(\.title)
        }
        texts += Self.plan.commonFields.flatMap { [$0.title] + ($0.values ?? []).map(\.title) }
        for text in texts {
            #expect(text.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars), "\(text)")
        }
    }

    @Test func loadsFromATemporaryFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plans-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("kh-2025.json")
        var next = Self.plan
        next.id = "kh-2025"
        next.title = "Kế hoạch năm 2025"
        try next.encoded().write(to: url)
        let loaded = try BuiltInPlans.load(contentsOf: url)
        #expect(loaded == next)
        #expect(loaded.id == "kh-2025")
    }

    /// The copy of the built-in plan that `Protocol/` ships for second implementations
    /// (`Protocol/plans/kh-1181-2024.json`, see `Protocol/plan-format.md`) is the shipped file, byte for byte.
    @Test func protocolCopyIsByteIdentical() throws {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try Data(contentsOf: root.appendingPathComponent("Sources/InspectorPlans/Resources/kh-1181-2024.json"))
        let copy = try Data(contentsOf: root.appendingPathComponent("Protocol/plans/kh-1181-2024.json"))
        #expect(!shipped.isEmpty)
        #expect(copy == shipped, "Protocol/plans/kh-1181-2024.json differs from Sources/InspectorPlans/Resources/kh-1181-2024.json: copy the resource over it")
    }

    @Test func malformedFileIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plans-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("broken.json")
        var json = try JSONSerialization.jsonObject(with: Self.plan.encoded()) as! [String: Any]
        json["items"] = nil
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        let error = try #require(throws: CoreError.self) { try BuiltInPlans.load(contentsOf: url) }
        #expect(error.code == .malformedPlan)
        #expect(error.code.rawValue == "malformed_plan")
        #expect(error.message.contains("'items'"))

        try Data("{\"format\":".utf8).write(to: url)
        #expect(throws: CoreError.self) { try BuiltInPlans.load(contentsOf: url) }

        let missing = try #require(throws: CoreError.self) { try BuiltInPlans.load(contentsOf: dir.appendingPathComponent("none.json")) }
        #expect(missing.code == .malformedPlan)
        #expect(missing.message.contains("cannot read"))
    }
}

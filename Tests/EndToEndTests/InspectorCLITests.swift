import Foundation
import InspectorTestSupport
import InspectorCore
import InspectorPlans
import InspectorProtocol
import InspectorStore
import Testing

/// A bad input to the `inspector` CLI, and what its error message must name.
enum BadInput: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case unknownUnit, unknownItem, unknownField
    case percentNotANumber, percentOutOfRange, enumValueUnknown, integerWithFraction, dateNotADate, emptyTextValue
    case emptyFindingText, unknownFindingKind, findingOfUnknownItem, findingOfUnknownUnit
    case retractUnknownID, retractWithoutReason
    case truncatedBundle, bundleWithoutTrailer, corruptedBundleValue, corruptedBundleSyntax, bundleWithRefusedOp, missingBundle
    case malformedPlanJSON, planMissingKey, planWithUnknownParent, missingPlanFile
    case initOverExistingReplica, invalidDeviceID
    case exportWithoutJSON, showUnknownUnit

    var testDescription: String { rawValue }
}

extension EndToEnd {
    @Suite("The inspector CLI")
    struct InspectorCLITests {
        /// A replica `r.sqlite` of dev-a with a value, a finding and a retracted finding; returns the first finding's id.
        static func prepareReplica(_ ws: Workspace) async throws -> String {
            let r = ws.path("r.sqlite")
            try requireSuccess(try await ws.inspector("init", "--db", r, "--device", "dev-a"))
            try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.4", "status", "in_progress"))
            let added = try requireSuccess(try await ws.inspector("finding", "add", "--db", r, "--unit", "muong-lay", "--item", "II.4",
                                                                  "--kind", "shortcoming", "--text", "Chưa công khai danh sách khen thưởng"))
            let second = try requireSuccess(try await ws.inspector("finding", "add", "--db", r, "--unit", "muong-lay",
                                                                   "--kind", "observation", "--text", "Ghi nhận tạm"))
            try requireSuccess(try await ws.inspector("finding", "retract", "--db", r, second.lines.last!, "--reason", "Ghi nhầm đơn vị"))
            return try #require(added.lines.last)
        }

        /// A bundle of dev-s's three operations, written by the CLI; returns its bytes.
        static func prepareBundle(_ ws: Workspace) async throws -> Data {
            let s = ws.path("s.sqlite")
            try requireSuccess(try await ws.inspector("init", "--db", s, "--device", "dev-s"))
            try requireSuccess(try await ws.inspector("set", "--db", s, "muong-ang", "II.5", "fund_percent", "33,3"))
            try requireSuccess(try await ws.inspector("set", "--db", s, "muong-ang", "II.4", "note", "Đơn vị đã khắc phục"))
            try requireSuccess(try await ws.inspector("finding", "add", "--db", s, "--unit", "muong-ang", "--kind", "good_practice",
                                                      "--text", "Số hóa hồ sơ khen thưởng"))
            let written = try requireSuccess(try await ws.inspector("bundle", "export", "--db", s, "--out", ws.path("s.bundle")))
            #expect(written.stdout.contains("wrote 3 operations"), "\(written)")
            return try Data(contentsOf: URL(fileURLWithPath: ws.path("s.bundle")))
        }

        /// The built-in plan as a plan-file JSON object, to damage.
        static func planObject() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: BuiltInPlans.current().encoded()) as? [String: Any])
        }

        @Test("every bad input is refused with a clear message, and the op count does not change", arguments: BadInput.allCases)
        func badInputIsRefused(_ input: BadInput) async throws {
            try await withWorkspace("bad-\(input.rawValue)") { ws in
                let findingID = try await Self.prepareReplica(ws)
                let r = ws.path("r.sqlite")
                var arguments: [String]
                var expected: [String]
                var mustNotExist: String?
                switch input {
                case .unknownUnit:
                    arguments = ["set", "--db", r, "nowhere", "II.5", "fund_percent", "12"]
                    expected = ["unknown unit 'nowhere'", "units are:", "muong-lay", "muong-ang", "hoi-luat-gia"]
                case .unknownItem:
                    arguments = ["set", "--db", r, "muong-lay", "II.99", "status", "done"]
                    expected = ["unknown item 'II.99'", "items are:", "II.4", "II.6.dd", "III.3"]
                case .unknownField:
                    arguments = ["set", "--db", r, "muong-lay", "II.4", "budget", "1"]
                    expected = ["no field 'budget'", "fields are:", "status", "rating", "note", "share_workers_farmers"]
                case .percentNotANumber:
                    arguments = ["set", "--db", r, "muong-lay", "II.5", "fund_percent", "abc"]
                    expected = ["fund_percent", "'abc'", "number"]
                case .percentOutOfRange:
                    arguments = ["set", "--db", r, "muong-lay", "II.5", "fund_percent", "150"]
                    expected = ["fund_percent", "0 to 100", "150"]
                case .enumValueUnknown:
                    arguments = ["set", "--db", r, "muong-lay", "II.4", "status", "maybe"]
                    expected = ["status", "'maybe'", "not_started", "in_progress", "done", "not_applicable"]
                case .integerWithFraction:
                    arguments = ["set", "--db", r, "muong-lay", "II.4", "collectives_state", "2.5"]
                    expected = ["collectives_state", "whole number", "2.5"]
                case .dateNotADate:
                    // No field of the built-in plan is a date; a percent given a date is refused the same way.
                    arguments = ["set", "--db", r, "muong-lay", "II.4", "share_small_collectives", "2024-06-20"]
                    expected = ["share_small_collectives", "2024-06-20"]
                case .emptyTextValue:
                    arguments = ["set", "--db", r, "muong-lay", "II.4", "note", "   "]
                    expected = ["note", "empty"]
                case .emptyFindingText:
                    arguments = ["finding", "add", "--db", r, "--unit", "muong-lay", "--kind", "observation", "--text", " \n\t "]
                    expected = ["finding text is empty"]
                case .unknownFindingKind:
                    arguments = ["finding", "add", "--db", r, "--unit", "muong-lay", "--kind", "praise", "--text", "Tốt"]
                    expected = ["unknown finding kind 'praise'", "shortcoming", "good_practice", "recommendation", "observation"]
                case .findingOfUnknownItem:
                    arguments = ["finding", "add", "--db", r, "--unit", "muong-lay", "--item", "IV.1", "--kind", "observation", "--text", "Tốt"]
                    expected = ["unknown item 'IV.1'", "III.3"]
                case .findingOfUnknownUnit:
                    arguments = ["finding", "add", "--db", r, "--unit", "so-tai-chinh", "--kind", "observation", "--text", "Tốt"]
                    expected = ["unknown unit 'so-tai-chinh'", "muong-lay"]
                case .retractUnknownID:
                    arguments = ["finding", "retract", "--db", r, "dev-a/999", "--reason", "Không có"]
                    expected = ["no finding with id 'dev-a/999'"]
                case .retractWithoutReason:
                    arguments = ["finding", "retract", "--db", r, findingID, "--reason", "  "]
                    expected = ["retraction reason is empty"]
                case .truncatedBundle:
                    let data = try await Self.prepareBundle(ws)
                    try data.prefix(data.count * 2 / 3).write(to: URL(fileURLWithPath: ws.path("cut.bundle")))
                    arguments = ["bundle", "import", "--db", r, ws.path("cut.bundle")]
                    expected = ["bundle", "cut", "nothing was imported"]
                case .bundleWithoutTrailer:
                    let data = try await Self.prepareBundle(ws)
                    var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    lines.removeLast(2)  // the empty tail and the `end` line: the cut falls between two lines
                    try Data(lines.joined(separator: [UInt8(ascii: "\n")]) + [UInt8(ascii: "\n")]).write(to: URL(fileURLWithPath: ws.path("cut.bundle")))
                    arguments = ["bundle", "import", "--db", r, ws.path("cut.bundle")]
                    expected = ["cut", "trailer", "nothing was imported"]
                case .corruptedBundleValue:
                    // One byte of an op line's value changes ("33.3" → "34.3"): still well-formed, so only the digest tells.
                    var data = try await Self.prepareBundle(ws)
                    let at = try #require(data.range(of: Data("\"v\":\"33.3\"".utf8)))
                    data[at.lowerBound + 6] = UInt8(ascii: "4")
                    try data.write(to: URL(fileURLWithPath: ws.path("bad.bundle")))
                    arguments = ["bundle", "import", "--db", r, ws.path("bad.bundle")]
                    expected = ["altered or damaged", "nothing was imported"]
                case .corruptedBundleSyntax:
                    // The opening brace of the second op line becomes '[': that line cannot be read.
                    var data = try await Self.prepareBundle(ws)
                    let lineStarts = data.indices.filter { data[$0] == UInt8(ascii: "\n") }.map { $0 + 1 }
                    data[lineStarts[1] + 3] = UInt8(ascii: "[")
                    try data.write(to: URL(fileURLWithPath: ws.path("bad.bundle")))
                    arguments = ["bundle", "import", "--db", r, ws.path("bad.bundle")]
                    expected = ["bundle line 3", "nothing was imported"]
                case .bundleWithRefusedOp:
                    // A well-formed, correctly signed bundle whose last op names an item the plan lacks: all or nothing.
                    let plan = try BuiltInPlans.current()
                    let t = HLCTimestamp(millis: 1_718_000_000_000, counter: 0, device: "dev-s")
                    let ops: [Op] = [
                        .set(device: "dev-s", sequence: 1, timestamp: t, unit: "muong-ang", item: "II.4", field: "status", value: "done"),
                        .findingAdd(device: "dev-s", sequence: 2, timestamp: HLCTimestamp(millis: t.millis + 1, counter: 0, device: "dev-s"),
                                    unit: "muong-ang", item: nil, kind: .observation, text: "Ghi nhận"),
                        .set(device: "dev-s", sequence: 3, timestamp: HLCTimestamp(millis: t.millis + 2, counter: 0, device: "dev-s"),
                             unit: "muong-ang", item: "II.77", field: "status", value: "done"),
                    ]
                    try SigningKeys.bundle(plan: plan.id, device: "dev-s", ops: ops).encoded()
                        .write(to: URL(fileURLWithPath: ws.path("refused.bundle")))
                    try await trustTestKeys(of: ["dev-s"], in: r)
                    arguments = ["bundle", "import", "--db", r, ws.path("refused.bundle")]
                    expected = ["unknown item 'II.77'"]
                case .missingBundle:
                    arguments = ["bundle", "import", "--db", r, ws.path("nowhere.bundle")]
                    expected = ["cannot read the bundle", "nowhere.bundle"]
                case .malformedPlanJSON:
                    try Data("{\"format\": \"inspectorsync-plan/1\", \"id\": ".utf8).write(to: URL(fileURLWithPath: ws.path("plan.json")))
                    arguments = ["init", "--db", ws.path("new.sqlite"), "--device", "dev-n", "--plan", ws.path("plan.json")]
                    expected = ["plan file", "not valid JSON"]
                    mustNotExist = ws.path("new.sqlite")
                case .planMissingKey:
                    var object = try Self.planObject()
                    object.removeValue(forKey: "items")
                    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: ws.path("plan.json")))
                    arguments = ["init", "--db", ws.path("new.sqlite"), "--device", "dev-n", "--plan", ws.path("plan.json")]
                    expected = ["plan file", "missing key 'items'"]
                    mustNotExist = ws.path("new.sqlite")
                case .planWithUnknownParent:
                    var object = try Self.planObject()
                    var units = try #require(object["units"] as? [[String: Any]])
                    units[1]["parent"] = "tinh-uy"
                    object["units"] = units
                    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: ws.path("plan.json")))
                    arguments = ["init", "--db", ws.path("new.sqlite"), "--device", "dev-n", "--plan", ws.path("plan.json")]
                    expected = ["plan file", "units[1].parent 'tinh-uy'"]
                    mustNotExist = ws.path("new.sqlite")
                case .missingPlanFile:
                    arguments = ["init", "--db", ws.path("new.sqlite"), "--device", "dev-n", "--plan", ws.path("kh-2025.json")]
                    expected = ["cannot read the plan file", "kh-2025.json"]
                    mustNotExist = ws.path("new.sqlite")
                case .initOverExistingReplica:
                    arguments = ["init", "--db", r, "--device", "dev-z"]
                    expected = ["already exists", "r.sqlite"]
                case .invalidDeviceID:
                    arguments = ["init", "--db", ws.path("new.sqlite"), "--device", "Máy A"]
                    expected = ["device id 'Máy A' is not valid"]
                    mustNotExist = ws.path("new.sqlite")
                case .exportWithoutJSON:
                    arguments = ["export", "--db", r]
                    expected = ["--json"]
                case .showUnknownUnit:
                    arguments = ["show", "--db", r, "--unit", "nowhere"]
                    expected = ["unknown unit 'nowhere'", "muong-lay"]
                }

                let countBefore = try await ws.logLineCount(r)
                let logBefore = try requireSuccess(try await ws.inspector("log", "--db", r)).stdoutData
                let exportBefore = try requireSuccess(try await ws.inspector("export", "--json", "--db", r)).stdoutData
                let result = try await ws.inspector(arguments: arguments)
                #expect(result.status != 0 && !result.timedOut, "\(result)")
                #expect(result.stderr.hasPrefix("Error: "), "\(result)")
                for part in expected {
                    #expect(result.stderr.contains(part), "the message does not name '\(part)': \(result.stderr)")
                }
                #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"), "\(result)")
                #expect(result.stdout.isEmpty, "a refused command printed to stdout: \(result.stdout)")
                #expect(try await ws.logLineCount(r) == countBefore)
                #expect(try requireSuccess(try await ws.inspector("log", "--db", r)).stdoutData == logBefore)
                #expect(try requireSuccess(try await ws.inspector("export", "--json", "--db", r)).stdoutData == exportBefore)
                if let mustNotExist {
                    #expect(!FileManager.default.fileExists(atPath: mustNotExist), "a refused init left \(mustNotExist) behind")
                }
            }
        }

        @Test("finding add prints the new id on its last line, and that id works with retract")
        func findingAddPrintsID() async throws {
            try await withWorkspace { ws in
                let r = ws.path("r.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", r, "--device", "dev-a"))
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.4", "status", "done"))
                let added = try requireSuccess(try await ws.inspector("finding", "add", "--db", r, "--unit", "muong-lay", "--item", "II.5",
                                                                      "--kind", "recommendation", "--text", "Trích lập quỹ đúng tỷ lệ"))
                #expect(added.lines.last == "dev-a/2", "\(added)")
                let unitWide = try requireSuccess(try await ws.inspector("finding", "add", "--db", r, "--unit", "muong-lay",
                                                                         "--kind", "good_practice", "--text", "Làm tốt"))
                #expect(unitWide.lines.last == "dev-a/3", "\(unitWide)")
                let retracted = try requireSuccess(try await ws.inspector("finding", "retract", "--db", r, "dev-a/2", "--reason", "Đã khắc phục"))
                #expect(retracted.stdout.contains("dev-a/2"), "\(retracted)")
                let export = try requireSuccess(try await ws.inspector("export", "--json", "--db", r))
                let object = try #require(try JSONSerialization.jsonObject(with: export.stdoutData) as? [String: Any])
                let findings = try #require(object["findings"] as? [[String: Any]])
                #expect(findings.map { $0["id"] as? String } == ["dev-a/2", "dev-a/3"])
                #expect(findings.map { $0["retracted"] as? Bool } == [true, false])
                #expect((findings.first?["retraction"] as? [String: Any])?["reason"] as? String == "Đã khắc phục")
                #expect(findings.map { $0["item"] as? String } == ["II.5", nil])
                #expect(try await ws.logLineCount(r) == 4)
            }
        }

        @Test("show prints the checklist with its Vietnamese titles, values and findings")
        func showIsVietnamese() async throws {
            try await withWorkspace { ws in
                let r = ws.path("r.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", r, "--device", "dev-a"))
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("finding", "add", "--db", r, "--unit", "muong-lay", "--item", "II.4",
                                                          "--kind", "shortcoming", "--text", "Hồ sơ chưa đầy đủ"))
                let show = try requireSuccess(try await ws.inspector("show", "--db", r, "--unit", "muong-lay"))
                for part in ["1181/KH-HĐTĐKT", "Kế hoạch kiểm tra công tác thi đua, khen thưởng năm 2024", "== muong-lay: UBND thị xã Mường Lay (direct)",
                             "tiến độ: 1/26 mục đã hoàn thành", "II.4      Công tác khen thưởng",
                             "II.5      Công tác quản lý, sử dụng quỹ thi đua khen thưởng", "status = done   [dev-a,",
                             "• [dev-a/2] shortcoming: Hồ sơ chưa đầy đủ"] {
                    #expect(show.stdout.contains(part), "show lacks '\(part)': \(show.stdout.prefix(2000))")
                }
                #expect(!show.stdout.contains("muong-ang"), "show --unit muong-lay shows another unit")
                let all = try requireSuccess(try await ws.inspector("show", "--db", r))
                #expect(all.stdout.contains("== muong-ang: UBND huyện Mường Ảng") && all.stdout.contains("== so-y-te: Sở Y tế"))
            }
        }

        @Test("export --json is valid JSON with typed values")
        func exportIsJSON() async throws {
            try await withWorkspace { ws in
                let r = ws.path("r.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", r, "--device", "dev-a"))
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.5", "fund_percent", " 12,50 "))
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.6.c", "staff_count", "007"))
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.4", "rating", "kha"))
                let export = try requireSuccess(try await ws.inspector("export", "--json", "--db", r))
                #expect(export.stdout.hasSuffix("}\n"))
                let object = try #require(try JSONSerialization.jsonObject(with: export.stdoutData) as? [String: Any])
                #expect(Set(object.keys) == ["plan", "units", "items", "values", "findings", "conflicts"])
                #expect((object["plan"] as? [String: Any])?["id"] as? String == "kh-1181-2024")
                #expect((object["items"] as? [Any])?.count == 26)
                let percent = try exportedValue(export.stdoutData, unit: "muong-lay", item: "II.5", field: "fund_percent")
                #expect((percent?["value"] as? NSNumber)?.decimalValue == Decimal(string: "12.5"), "\(String(describing: percent))")
                #expect(export.stdout.contains("\"value\": 12.5,"), "a percent is not written as the bare canonical number")
                #expect(export.stdout.contains("\"value\": 7,"), "an integer is not written as the bare canonical number")
                #expect(try exportedValue(export.stdoutData, unit: "muong-lay", item: "II.4", field: "rating")?["value"] as? String == "kha")
                // The same state exports the same bytes.
                let again = try requireSuccess(try await ws.inspector("export", "--json", "--db", r))
                #expect(again.stdoutData == export.stdoutData)
            }
        }

        @Test("Vietnamese text survives byte for byte, in NFC, from set and finding add to export, log and another replica")
        func vietnameseTextIsNFC() async throws {
            try await withWorkspace { ws in
                let r = ws.path("r.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", r, "--device", "dev-a"))
                let text = "Đơn vị đã thực hiện tốt phong trào “Dân vận khéo”; quỹ khen thưởng được trích lập đúng 12,5%."
                let nfc = Text.nfc(text)
                let nfd = text.decomposedStringWithCanonicalMapping
                try #require(bytes(nfd) != bytes(nfc), "the sample has no composed characters")
                // Typed in decomposed form (as some keyboards send it), stored and exported composed.
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.4", "note", nfd))
                let added = try requireSuccess(try await ws.inspector("finding", "add", "--db", r, "--unit", "muong-lay",
                                                                      "--kind", "good_practice", "--text", "  " + nfd + "\n"))
                let findingID = try #require(added.lines.last)
                let export = try requireSuccess(try await ws.inspector("export", "--json", "--db", r))
                #expect(contains(export.stdoutData, bytes("\"value\": \"" + nfc + "\"")), "the note is not exported in NFC, byte for byte")
                #expect(contains(export.stdoutData, bytes("\"text\": \"" + nfc + "\"")), "the finding is not exported in NFC, byte for byte")
                #expect(!contains(export.stdoutData, bytes("Đơn vị đã thực hiện".decomposedStringWithCanonicalMapping)))
                let value = try exportedValue(export.stdoutData, unit: "muong-lay", item: "II.4", field: "note")?["value"] as? String
                #expect(value.map(bytes) == bytes(nfc))
                let log = try requireSuccess(try await ws.inspector("log", "--db", r))
                #expect(contains(log.stdoutData, bytes(nfc)) && !contains(log.stdoutData, bytes(nfd)))

                // Through a bundle to another replica, the bytes stay the same.
                try requireSuccess(try await ws.inspector("bundle", "export", "--db", r, "--out", ws.path("r.bundle")))
                let s = ws.path("s.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", s, "--device", "dev-b"))
                try await trustKey(ofReplica: r, device: "dev-a", in: s)
                let imported = try requireSuccess(try await ws.inspector("bundle", "import", "--db", s, ws.path("r.bundle")))
                #expect(imported.stdout.contains("2 new, 0 already held"), "\(imported)")
                let twice = try requireSuccess(try await ws.inspector("bundle", "import", "--db", s, ws.path("r.bundle")))
                #expect(twice.stdout.contains("0 new, 2 already held"), "\(twice)")
                let other = try requireSuccess(try await ws.inspector("export", "--json", "--db", s))
                #expect(other.stdoutData == export.stdoutData)
                let retract = try requireSuccess(try await ws.inspector("finding", "retract", "--db", s, findingID, "--reason", nfd))
                #expect(retract.succeeded)
                let afterRetract = try requireSuccess(try await ws.inspector("export", "--json", "--db", s))
                #expect(contains(afterRetract.stdoutData, bytes("\"reason\": \"" + nfc + "\"")))
            }
        }

        @Test("importing a bundle of many edits of one field takes about as long as one of edits spread over many fields")
        func bundleImportScalesWithRepeatedEdits() async throws {
            try await withWorkspace { ws in
                let plan = try BuiltInPlans.current()
                let count = 12_000
                let spread = syntheticOperations(device: "dev-s", count: count, startMillis: 1_718_000_000_000, plan: plan)
                let repeated = (1...count).map { index in
                    Op.set(device: "dev-s", sequence: Int64(index), timestamp: HLCTimestamp(millis: 1_718_000_000_000 + Int64(index), counter: 0, device: "dev-s"),
                           unit: "muong-lay", item: "II.4", field: "collectives_state", value: String(index))
                }
                var elapsed: [Double] = []
                for (name, ops) in [("spread", spread), ("repeated", repeated)] {
                    try SigningKeys.bundle(plan: plan.id, device: "dev-s", ops: ops).encoded()
                        .write(to: URL(fileURLWithPath: ws.path("\(name).bundle")))
                    try requireSuccess(try await ws.inspector("init", "--db", ws.path("\(name).sqlite"), "--device", "dev-t"))
                    try await trustTestKeys(of: ["dev-s"], in: ws.path("\(name).sqlite"))
                    let imported = try requireSuccess(try await ws.inspector("bundle", "import", "--db", ws.path("\(name).sqlite"), ws.path("\(name).bundle")))
                    #expect(imported.stdout.contains("\(count) new"), "\(imported)")
                    elapsed.append(imported.elapsed)
                }
                print("[bundleImportScalesWithRepeatedEdits] \(count) ops over many fields: \(String(format: "%.2f", elapsed[0])) s; \(count) edits of one field: \(String(format: "%.2f", elapsed[1])) s")
                #expect(elapsed[1] < elapsed[0] * 3 + 1, "the import slows down with the number of earlier edits of the same field (quadratic)")
            }
        }
    }
}

import Foundation
import HTTPTypes
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorReports
import InspectorStore
import Testing
@testable import InspectorDashboard

/// The dashboard's pages, forms and downloads through its router (no socket), over a real hub store.
@Suite struct DashboardTests {
    /// Two devices that disagree on a rating, findings (one retracted), and two schedules: one
    /// whose notice deadline falls within 7 days of "today" (28/05/2024), one whose has passed.
    static func inspection() async throws -> DashboardSetup {
        let setup = try await DashboardSetup()
        let hub = setup.hub
        _ = try hub.addDevice("dev-hoa", units: ["muong-lay"], name: "Quàng Thị Hoa")
        _ = try hub.addDevice("dev-tuan", units: ["muong-lay"], name: "Điêu Chính Tuấn")
        try hub.schedule(unit: "muong-lay", arrival: CalendarDate(year: 2024, month: 6, day: 20)!)
        try hub.schedule(unit: "so-y-te", arrival: CalendarDate(year: 2024, month: 6, day: 3)!)
        let t = fixedHubTime - 3_600_000
        func at(_ offset: Int64, _ device: String) -> HLCTimestamp { HLCTimestamp(millis: t + offset, counter: 0, device: device) }
        let hoa: [Op] = [
            .set(device: "dev-hoa", sequence: 1, timestamp: at(1, "dev-hoa"), unit: "muong-lay", item: "II.4", field: "rating", value: "tot"),
            .set(device: "dev-hoa", sequence: 2, timestamp: at(2, "dev-hoa"), unit: "muong-lay", item: "II.1", field: "status", value: "done"),
            .findingAdd(device: "dev-hoa", sequence: 3, timestamp: at(3, "dev-hoa"), unit: "muong-lay", item: "II.4", kind: .shortcoming,
                        text: "Chưa cập nhật danh sách cá nhân được khen thưởng"),
        ]
        let tuan: [Op] = [
            .set(device: "dev-tuan", sequence: 1, timestamp: at(10, "dev-tuan"), unit: "muong-lay", item: "II.4", field: "rating", value: "kha"),
            .findingAdd(device: "dev-tuan", sequence: 2, timestamp: at(11, "dev-tuan"), unit: "muong-lay", item: nil, kind: .observation, text: "Ghi nhầm đơn vị"),
            .findingRetract(device: "dev-tuan", sequence: 3, timestamp: at(12, "dev-tuan"), unit: "muong-lay", item: nil, finding: "dev-tuan/2", reason: "Ghi nhầm"),
        ]
        for (id, ops) in [("dev-hoa", hoa), ("dev-tuan", tuan)] {
            let device = try #require(try await hub.device(id))
            _ = try await hub.push(Message.Push(ops: ops), from: device, scope: hub.scope(of: device))
        }
        return setup
    }

    @Test func anonymousPagesRedirectToTheSignInFormAndAnonymousPostsAreRefused() async throws {
        let setup = try await DashboardSetup()
        try await setup.test { browser in
            let overview = try await browser.get("/")
            #expect(overview.status == .seeOther && overview.headers[.location] == "/sign-in?next=/")
            #expect(try await browser.get("/units/muong-lay?tab=1").headers[.location] == "/sign-in?next=/units/muong-lay%3Ftab%3D1")
            for path in ["/conflicts", "/audit", "/downloads", "/downloads/units.csv", "/events", "/devices/dev-a", "/attachments/x.jpg"] {
                #expect(try await browser.get(path).status == .seeOther, "\(path)")
            }
            let refused = try await browser.post("/conflicts/resolve", form: [("unit", "muong-lay")])
            #expect(refused.status == .unauthorized && refused.text.contains("not_signed_in"))
            #expect(try await browser.get("/style.css").status == .ok)
            #expect(try await browser.get("/live.js").status == .ok)
            let form = try await browser.get("/sign-in")
            #expect(form.status == .ok && form.text.contains("Đăng nhập") && form.csrf?.count == 64)
            #expect(form.headers[.xContentTypeOptions] == "nosniff" && form.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
        }
    }

    @Test func signingInNeedsTheFormsTokenAndTheRightPassword() async throws {
        let setup = try await DashboardSetup()
        try await setup.test { browser in
            // Without the form's cookie (a page of another site posting the form): refused.
            let forged = try await browser.post("/sign-in", form: [("csrf", "abc"), ("name", DashboardSetup.viewer.name), ("password", DashboardSetup.viewer.password)])
            #expect(forged.status == .forbidden && forged.text.contains("csrf_failed"))
            #expect(browser.cookies["inspector_session"] == nil)
            let wrong = try await browser.signIn((DashboardSetup.viewer.name, "sai-mật-khẩu"))
            #expect(wrong.status == .unauthorized && wrong.text.contains("sign_in_failed") && wrong.text.contains(DashboardSetup.viewer.name))
            let right = try await browser.signIn(DashboardSetup.viewer)
            #expect(right.status == .seeOther && right.headers[.location] == "/")
            let cookie = right.headers[values: .setCookie].first { $0.hasPrefix("inspector_session=") } ?? ""
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "\(cookie)")
            #expect(try await browser.get("/").status == .ok)
            // Signed in, the form sends the browser on; a foreign 'next' is not followed.
            #expect(try await browser.get("/sign-in?next=/audit").headers[.location] == "/audit")
            #expect(try await browser.get("/sign-in?next=//evil.example/").headers[.location] == "/")
        }
    }

    @Test func theOverviewShowsProgressFindingsDeadlinesAndDevices() async throws {
        let setup = try await Self.inspection()
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.viewer)
            let page = try await browser.get("/")
            #expect(page.status == .ok)
            let row = try #require(Self.row("muong-lay", in: page.text))
            #expect(row.contains("data-done=\"1\" data-total=\"\(builtInPlan.items.count)\""))
            #expect(row.contains("data-kind=\"shortcoming\">1<") && row.contains("data-kind=\"observation\">0<"), "a retracted finding is not counted")
            #expect(row.contains("<span class=\"deadline soon\">30/05/2024 <em>(sắp đến hạn)</em>"), "\(row)")
            let health = try #require(Self.row("so-y-te", in: page.text))
            #expect(health.contains("deadline passed"), "\(health)")
            #expect(page.text.contains("Quàng Thị Hoa") && page.text.contains("Điêu Chính Tuấn"))
            #expect(page.text.contains("<strong>1</strong> xung đột chưa giải quyết"))
        }
    }

    @Test func theUnitPageFollowsTheOutlineWithProvenanceAndStruckRetractions() async throws {
        let setup = try await Self.inspection()
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.viewer)
            let page = try await browser.get("/units/muong-lay")
            #expect(page.status == .ok)
            let text = page.text
            let order = ["I. Đặc điểm tình hình", "II. Kết quả thực hiện", "II.2. ", "II.2.a. ", "II.6. ", "III. Nhận xét, đánh giá chung"].map { text.range(of: $0)?.lowerBound }
            #expect(order.allSatisfy { $0 != nil } && zip(order, order.dropFirst()).allSatisfy { $0! < $1! }, "the outline's order")
            #expect(text.contains("Quàng Thị Hoa · dev-hoa"), "who set a value")
            #expect(text.contains("<del><span class=\"kind\">[Ghi nhận]</span> Ghi nhầm đơn vị</del>") && text.contains("Đã rút lại: Ghi nhầm"))
            #expect(!text.contains("action=\"/units/muong-lay/schedule\""), "a viewer gets no schedule form")
            #expect(try await browser.get("/units/nowhere").status == .notFound)
            #expect(try await browser.get("/devices/dev-tuan").text.contains("Ghi nhầm đơn vị"))
            #expect(try await browser.get("/devices/nobody").status == .notFound)
        }
    }

    @Test func aViewerCannotDecideAndNoFormPassesWithoutTheSessionsToken() async throws {
        let setup = try await Self.inspection()
        let before = try setup.hub.replica.dataset()
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.viewer)
            let page = try await browser.get("/conflicts")
            #expect(!page.text.contains("action=\"/conflicts/resolve\""))
            let decide = [("unit", "muong-lay"), ("item", "II.4"), ("field", "rating"), ("value", "trung_binh")]
            let refused = try await browser.post("/conflicts/resolve", form: [("csrf", page.csrf ?? "")] + decide)
            #expect(refused.status == .forbidden && refused.text.contains("forbidden"))
            #expect(try await browser.post("/units/muong-lay/schedule", form: [("csrf", page.csrf ?? ""), ("arrival", "2024-06-21")]).status == .forbidden)
            _ = try await browser.signIn(DashboardSetup.supervisor)
            #expect(try await browser.post("/conflicts/resolve", form: decide).status == .forbidden, "no token")
            #expect(try await browser.post("/conflicts/resolve", form: [("csrf", page.csrf ?? "")] + decide).status == .forbidden, "the viewer's session's token")
        }
        #expect(try setup.hub.replica.dataset() == before, "nothing changed")
        #expect(try await setup.hub.auditEntries().allSatisfy { $0.action == .userAdded || $0.action == .schedule })
    }

    /// Thirteen devices disagree on the note of 22 items; one of the conflicts is decided. The
    /// ledger lists the open ones first, 20 to a page, each with the value in use, the ten latest
    /// other values and how many older ones are left out, and every distinct value to choose
    /// from; the unit page counts each conflict's other values. The snapshot holds only the
    /// conflicts' entries: the page reads the conflicts it shows.
    @Test func theLedgerListsOpenConflictsFirstTwentyToAPageWithTheTenLatestOtherValues() async throws {
        let setup = try await DashboardSetup()
        let hub = setup.hub
        let items = builtInPlan.items.prefix(22).map(\.id)
        let t = fixedHubTime - 3_600_000
        for index in 0..<13 {
            let id = "dev-\(index + 10)"
            _ = try hub.addDevice(id, units: ["muong-lay"], name: "Cán bộ \(index + 10)")
            let device = try #require(try await hub.device(id))
            let ops = items.enumerated().map { position, item in
                Op.set(device: id, sequence: Int64(position + 1), timestamp: HLCTimestamp(millis: t + Int64(index * 1000 + position), counter: 0, device: id),
                       unit: "muong-lay", item: item, field: "note", value: "Ghi chú của thiết bị \(index + 10) về mục \(item)")
            }
            _ = try await hub.push(Message.Push(ops: ops), from: device, scope: hub.scope(of: device))
        }
        try await hub.resolve(unit: "muong-lay", item: items[0], field: "note", value: "Đã thống nhất", by: DashboardSetup.supervisor.name)
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.supervisor)
            func articles(_ page: Browser.Page) -> [Substring] { page.text.split(separator: "<article").dropFirst().map { $0 } }
            let first = try await browser.get("/conflicts")
            #expect(first.text.contains("21 chưa giải quyết · 1 đã giải quyết"))
            let listed = articles(first)
            #expect(listed.count == 20)
            #expect(listed[0].contains("id=\"conflict-muong-lay-\(items[1])-note\""))
            for article in listed {
                #expect(article.components(separatedBy: "<th>Khác</th>").count - 1 == 10)
                #expect(article.contains("… và 2 giá trị khác cũ hơn"))
                #expect(article.components(separatedBy: "type=\"radio\"").count - 1 == 13)
                #expect(article.contains("<td class=\"value\">Ghi chú của thiết bị 22 về mục"), "the newest value in use")
            }
            let second = articles(try await browser.get("/conflicts?page=2"))
            #expect(second.count == 2)
            #expect(second.last?.contains("id=\"conflict-muong-lay-\(items[0])-note\"") == true && second.last?.contains("Đã quyết định bởi") == true,
                    "the decided conflict comes last")
            #expect(second.last?.components(separatedBy: "type=\"radio\"").count.advanced(by: -1) == 14, "the decision and the 13 devices' values")
            #expect(articles(try await browser.get("/conflicts?unit=muong-lay&page=2")).count == 2)
            #expect(articles(try await browser.get("/conflicts?unit=so-y-te")).isEmpty)
            let unit = try await browser.get("/units/muong-lay")
            #expect(unit.text.components(separatedBy: "12 giá trị khác").count - 1 == 21)
            #expect(unit.text.contains("13 giá trị khác — <em>đã quyết định bởi \(DashboardSetup.supervisor.name)</em>"))
        }
    }

    @Test func aSupervisorResolvesAConflictAndSchedulesAVisitThroughTheForms() async throws {
        let setup = try await Self.inspection()
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.supervisor)
            let page = try await browser.get("/conflicts")
            #expect(page.text.contains("id=\"conflict-muong-lay-II.4-rating\"") && page.text.contains("Khá") && page.text.contains("Tốt"))
            let csrf = try #require(page.csrf)
            // A value the field does not take is refused with the field's own error, and changes nothing.
            let bad = try await browser.post("/conflicts/resolve", form: [("csrf", csrf), ("unit", "muong-lay"), ("item", "II.4"), ("field", "rating"), ("other", "xuất sắc")])
            #expect(bad.status == .badRequest && bad.text.contains("invalid_value"))
            let decided = try await browser.post("/conflicts/resolve", form: [("csrf", csrf), ("unit", "muong-lay"), ("item", "II.4"), ("field", "rating"), ("value", "trung_binh")])
            #expect(decided.status == .seeOther && decided.headers[.location] == "/conflicts")
            let after = try await browser.get("/conflicts")
            #expect(after.text.contains("Đã quyết định bởi <strong>\(DashboardSetup.supervisor.name)</strong>"))
            let scheduled = try await browser.post("/units/muong-lay/schedule", form: [("csrf", csrf), ("arrival", "2024-06-24")])
            #expect(scheduled.status == .seeOther && scheduled.headers[.location] == "/units/muong-lay")
            #expect(try await browser.post("/units/muong-lay/schedule", form: [("csrf", csrf), ("arrival", "24/06/2024")]).status == .badRequest)
            #expect(try await browser.post("/units/nowhere/schedule", form: [("csrf", csrf), ("arrival", "2024-06-24")]).status == .notFound)
            let audit = try await browser.get("/audit")
            #expect(audit.text.contains("Giải quyết xung đột") && audit.text.contains("Xếp lịch kiểm tra") && audit.text.contains("muong-lay: đoàn đến ngày 24/06/2024"))
        }
        let value = try setup.hub.replica.dataset().values.first { $0.unit == "muong-lay" && $0.item == "II.4" && $0.field == "rating" }
        #expect(value?.current.value == "trung_binh" && value?.current.device == "hub")
        let audit = try await setup.hub.auditEntries()
        #expect(audit.first?.user == DashboardSetup.supervisor.name && audit.first?.action == .schedule)
        let input = try await setup.hub.exportInput(asOf: CalendarDate(year: 2024, month: 5, day: 28)!)
        #expect(input.schedules["muong-lay"] == CalendarDate(year: 2024, month: 6, day: 24))
    }

    @Test func badFormsQueriesAndLinksAreRefusedByNameAndChangeNothing() async throws {
        let setup = try await Self.inspection()
        let before = try setup.hub.replica.dataset()
        try await setup.test { browser in
            // A sign-in link that is unknown, or too long to be one.
            let unknown = try await browser.get("/sign-in/link/\(String(repeating: "0", count: 64))")
            #expect(unknown.status == .unauthorized && unknown.text.contains("sign_in_failed"))
            #expect(try await browser.get("/sign-in/link/\(String(repeating: "a", count: 129))").status == .unauthorized)
            #expect(browser.cookies["inspector_session"] == nil)
            _ = try await browser.signIn(DashboardSetup.supervisor)
            let page = try await browser.get("/conflicts")
            let csrf = try #require(page.csrf)
            let missing = try await browser.post("/conflicts/resolve", form: [("csrf", csrf), ("unit", "muong-lay"), ("value", "tot")])
            #expect(missing.status == .badRequest && missing.text.contains("invalid_argument"))
            let empty = try await browser.post("/conflicts/resolve", form: [("csrf", csrf), ("unit", "muong-lay"), ("item", "II.4"), ("field", "rating"), ("value", "")])
            #expect(empty.status == .badRequest && empty.text.contains("invalid_value"))
            let foreign = try await browser.post("/conflicts/resolve", form: [("csrf", csrf), ("unit", "nowhere"), ("item", "II.4"), ("field", "rating"), ("value", "tot")])
            #expect(foreign.status == .notFound && foreign.text.contains("unknown_unit"))
            let item = try await browser.get("/units/muong-lay/findings?item=IX.9")
            #expect(item.status == .badRequest && item.text.contains("unknown_item"))
            #expect(try await browser.get("/units/nowhere/findings").status == .notFound)
            // Pages at the integers' edges are clamped, not refused.
            for query in ["page=-9223372036854775808", "page=9223372036854775807", "page=abc"] {
                #expect(try await browser.get("/conflicts?\(query)").status == .ok, "\(query)")
                #expect(try await browser.get("/units/muong-lay/findings?item=II.4&\(query)").status == .ok, "\(query)")
            }
            #expect(try await browser.get("/audit?before=-9223372036854775808").status == .ok)
        }
        #expect(try setup.hub.replica.dataset() == before, "nothing changed")
        #expect(try await setup.hub.auditEntries().allSatisfy { $0.action != .resolve })
    }

    /// A photo the hub holds is linked from every page that shows its finding (the unit, the item's
    /// findings, the device) and served; one only named by an op, its file never uploaded, is shown
    /// without a link and not served. Pages read the findings they show from the hub by id.
    @Test func aHeldPhotoIsLinkedWhereItsFindingShowsAndAnAbsentOneIsNot() async throws {
        let setup = try await Self.inspection()
        let hub = setup.hub
        var held = (0..<3000).map { UInt8(($0 * 37 + 11) % 251) }
        held[0] = 0xFF; held[1] = 0xD8; held[2] = 0xFF
        let heldPath = setup.folder.appendingPathComponent("held.jpg").path
        try Data(held).write(to: URL(fileURLWithPath: heldPath))
        let heldHash = try AttachmentFiles.hash(ofFileAt: heldPath)
        let absentHash = String(repeating: "b", count: 64)
        let t = fixedHubTime - 600_000
        let ops: [Op] = [
            .findingAdd(device: "dev-hoa", sequence: 4, timestamp: HLCTimestamp(millis: t, counter: 0, device: "dev-hoa"), unit: "muong-lay", item: "II.4",
                        kind: .shortcoming, text: "Biên bản có chữ ký chưa đủ"),
            .attachmentAdd(device: "dev-hoa", sequence: 5, timestamp: HLCTimestamp(millis: t + 1, counter: 0, device: "dev-hoa"), unit: "muong-lay", item: "II.4",
                           finding: "dev-hoa/4", descriptor: try AttachmentDescriptor(hash: heldHash, size: 3000, type: .jpeg, name: "biên bản.jpg")),
            .attachmentAdd(device: "dev-hoa", sequence: 6, timestamp: HLCTimestamp(millis: t + 2, counter: 0, device: "dev-hoa"), unit: "muong-lay", item: "II.4",
                           finding: "dev-hoa/4", descriptor: try AttachmentDescriptor(hash: absentHash, size: 10, type: .jpeg, name: "chưa gửi.jpg")),
        ]
        let device = try #require(try await hub.device("dev-hoa"))
        _ = try await hub.push(Message.Push(ops: ops), from: device, scope: hub.scope(of: device))
        _ = try await hub.store(.init(hash: heldHash, offset: 0, data: held), size: 3000)
        #expect(hub.attachmentFiles.holds(heldHash))
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.viewer)
            for path in ["/units/muong-lay", "/units/muong-lay/findings?item=II.4", "/devices/dev-hoa"] {
                let page = try await browser.get(path)
                #expect(page.status == .ok && page.text.contains("Biên bản có chữ ký chưa đủ"), "\(path)")
                #expect(page.text.contains("href=\"/attachments/\(heldHash).jpg\""), "\(path)")
                #expect(page.text.contains("chưa gửi.jpg") && !page.text.contains("/attachments/\(absentHash).jpg"), "\(path)")
            }
            for path in ["/attachments/\(heldHash).jpg", "/downloads/attachments/\(heldHash).jpg"] {
                let file = try await browser.get(path)
                #expect(file.status == .ok && file.headers[.contentType] == "image/jpeg", "\(path)")
            }
            #expect(try await browser.get("/attachments/\(absentHash).jpg").status == .notFound)
            #expect(try await browser.get("/attachments/\(heldHash).png").status == .notFound, "its name is <hash>.jpg")
            #expect(try await browser.get("/attachments/\(heldHash.prefix(8)).jpg").status == .notFound, "a prefix names no file here")
            for name in [String(repeating: "z", count: 64), String(repeating: "é", count: 32), heldHash.uppercased()] {
                #expect(try await browser.get("/attachments/\(name).jpg").status == .notFound, "\(name): not a hash the hub names its files by")
            }
        }
    }

    @Test func downloadsAreTheExportFilesOfTheSameDay() async throws {
        let setup = try await Self.inspection()
        let files = ExportFiles.make(try await setup.hub.exportInput(asOf: CalendarDate(year: 2024, month: 5, day: 28)!))
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.viewer)
            let list = try await browser.get("/downloads")
            for file in files {
                #expect(list.text.contains("href=\"/downloads/\(file.name)\""))
                let page = try await browser.get("/downloads/\(file.name)")
                #expect(page.status == .ok && Array(page.text.utf8) == file.bytes, "\(file.name)")
            }
            #expect(try await browser.get("/downloads/units.csv").headers[.contentType] == "text/csv; charset=utf-8")
            #expect(try await browser.get("/downloads/secret.txt").status == .notFound)
            #expect(try await browser.get("/attachments/\(String(repeating: "a", count: 64)).jpg").status == .notFound)
        }
    }

    @Test func pagesShowANewSyncOnTheirNextRequest() async throws {
        let setup = try await Self.inspection()
        try await setup.test { browser in
            _ = try await browser.signIn(DashboardSetup.viewer)
            let before = try await browser.get("/units/muong-lay")
            #expect(!before.text.contains("Đề nghị bổ sung biên bản"))
            let device = try #require(try await setup.hub.device("dev-hoa"))
            let op = Op.findingAdd(device: "dev-hoa", sequence: 4, timestamp: HLCTimestamp(millis: fixedHubTime - 1000, counter: 0, device: "dev-hoa"),
                                   unit: "muong-lay", item: "II.4", kind: .recommendation, text: "Đề nghị bổ sung biên bản họp")
            _ = try await setup.hub.push(Message.Push(ops: [op]), from: device, scope: setup.hub.scope(of: device))
            let after = try await browser.get("/units/muong-lay")
            #expect(after.text.contains("Đề nghị bổ sung biên bản họp"))
            #expect(after.value(of: "csrf") == before.value(of: "csrf"))
            let mark = { (page: Browser.Page) in page.text.range(of: "data-mark=\"").map { String(page.text[$0.upperBound...].prefix { $0 != "\"" }) } }
            #expect(mark(after) != nil && mark(after) != mark(before))
        }
    }

    /// The `<tr>` of a unit in the overview.
    static func row(_ unit: String, in page: String) -> String? {
        guard let start = page.range(of: "<tr id=\"unit-\(unit)\""),
              let end = page.range(of: "</tr>", range: start.upperBound..<page.endIndex) else { return nil }
        return String(page[start.lowerBound..<end.upperBound])
    }
}

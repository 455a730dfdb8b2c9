import Foundation
import InspectorCore
import InspectorHub
import InspectorStore
import Synchronization
import Testing
@testable import InspectorTestSupport

/// The office's accounts, sessions, sign-in links and audit list, kept by the hub store.
@Suite struct HubStoreOfficeTests {
    /// A hub whose clock the test moves.
    final class Setup: Sendable {
        let directory = TemporaryDirectory()
        let now = MovableClock(fixedHubTime)
        let hub: HubStore

        init() throws {
            let now = self.now
            hub = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan, clock: { now.millis })
        }

        func advance(_ millis: Int64) { now.advance(millis) }
    }

    static func code(_ body: () async throws -> Void) async -> ErrorCode? {
        do { try await body(); return nil } catch let error as any InspectorError { return error.code } catch { return .internal }
    }

    @Test func accountsAreAddedOnceWithACheckedNameAndPassword() async throws {
        let setup = try Setup()
        let hub = setup.hub
        // The name is stored in NFC: typed decomposed, it is the same account.
        try hub.addOfficeUser(name: "Nguye\u{302}\u{303}n Thi\u{323} Hu\u{31B}o\u{31B}ng", role: .supervisor, password: "mật-khẩu-dài")
        #expect(try hub.officeUsers() == [OfficeUser(name: "Nguyễn Thị Hương", role: .supervisor)])
        #expect(await Self.code { try hub.addOfficeUser(name: "Nguyễn Thị Hương", role: .viewer, password: "khác-hẳn-nhau") } == .alreadyExists)
        #expect(await Self.code { try hub.addOfficeUser(name: "Ngắn", role: .viewer, password: "1234567") } == .invalidArgument, "7 bytes")
        #expect(await Self.code { try hub.addOfficeUser(name: "Dài", role: .viewer, password: String(repeating: "ư", count: 37)) } == .invalidArgument, "74 bytes")
        #expect(await Self.code { try hub.addOfficeUser(name: "Điều khiển", role: .viewer, password: "abc\u{7}defgh") } == .invalidArgument)
        #expect(await Self.code { try hub.addOfficeUser(name: "   ", role: .viewer, password: "mật-khẩu-dài") } == .invalidText)
        #expect(await Self.code { try hub.addOfficeUser(name: String(repeating: "a", count: 101), role: .viewer, password: "mật-khẩu-dài") } == .invalidText)
        #expect(try hub.officeUsers().count == 1, "no refused account was written")
        let audit = try await hub.auditEntries()
        #expect(audit.map(\.action) == [.userAdded] && audit[0].user == HubStore.commandLineUser && audit[0].detail == "tài khoản Nguyễn Thị Hương (supervisor)")
    }

    @Test func signingInOpensASessionThatEndsOnSignOutOrAfterTwelveHours() async throws {
        let setup = try Setup()
        let hub = setup.hub
        try hub.addOfficeUser(name: "Hương", role: .viewer, password: "đúng-mật-khẩu")
        #expect(await Self.code { _ = try await hub.signIn(name: "Hương", password: "sai-mật-khẩu") } == .signInFailed)
        #expect(await Self.code { _ = try await hub.signIn(name: "Không Có", password: "đúng-mật-khẩu") } == .signInFailed, "an unknown name, the same answer")
        let (session, token) = try await hub.signIn(name: "Hương", password: "đúng-mật-khẩu")
        #expect(session.user == OfficeUser(name: "Hương", role: .viewer) && !session.user.role.canDecide)
        #expect(session.csrfToken.count == 64 && token.count == 64 && session.csrfToken != token)
        #expect(try await hub.officeSession(token: token) == session)
        #expect(try await hub.officeSession(token: String(repeating: "0", count: 64)) == nil)
        // Twelve hours later, it has ended.
        setup.advance(HubStore.officeSessionLength - 1)
        #expect(try await hub.officeSession(token: token) != nil)
        setup.advance(1)
        #expect(try await hub.officeSession(token: token) == nil)
        // A new one, signed out.
        let second = try await hub.signIn(name: "Hương", password: "đúng-mật-khẩu").token
        try await hub.signOut(token: second)
        #expect(try await hub.officeSession(token: second) == nil)
    }

    @Test func removingAnAccountEndsItsSessionsAndKeepsItsDecisions() async throws {
        let setup = try Setup()
        let hub = setup.hub
        try hub.addOfficeUser(name: "Thắng", role: .supervisor, password: "đúng-mật-khẩu")
        let token = try await hub.signIn(name: "Thắng", password: "đúng-mật-khẩu").token
        try await hub.resolve(unit: "muong-lay", item: "II.4", field: "rating", value: "kha", by: "Thắng")
        try hub.removeOfficeUser(name: "Thắng")
        #expect(try await hub.officeSession(token: token) == nil)
        #expect(await Self.code { try hub.removeOfficeUser(name: "Thắng") } == .notFound)
        let actions = try await hub.auditEntries().map(\.action)
        #expect(actions == [.userRemoved, .resolve, .userAdded], "newest first")
    }

    @Test func aSignInLinkWorksOnceAndExpires() async throws {
        let setup = try Setup()
        let hub = setup.hub
        try hub.addOfficeUser(name: "Hoa", role: .viewer, password: "đúng-mật-khẩu")
        #expect(await Self.code { _ = try hub.makeSignInLink(for: "Không Có") } == .notFound)
        let link = try hub.makeSignInLink(for: "Hoa")
        let (session, _) = try await hub.redeemSignInLink(link)
        #expect(session.user.name == "Hoa")
        #expect(await Self.code { _ = try await hub.redeemSignInLink(link) } == .signInFailed, "used")
        let late = try hub.makeSignInLink(for: "Hoa", validity: .seconds(60))
        setup.advance(60_000)
        #expect(await Self.code { _ = try await hub.redeemSignInLink(late) } == .signInFailed, "expired")
        #expect(await Self.code { _ = try await hub.redeemSignInLink("") } == .signInFailed)
    }

    @Test func decisionsAreAuditedWithWhoAndWhenAndPagedNewestFirst() async throws {
        let setup = try Setup()
        let hub = setup.hub
        try hub.schedule(unit: "muong-lay", arrival: CalendarDate(year: 2024, month: 6, day: 20)!)
        try await hub.schedule(unit: "so-y-te", arrival: CalendarDate(year: 2024, month: 7, day: 2)!, by: "Hương")
        setup.advance(1000)
        let op = try await hub.resolve(unit: "muong-lay", item: "II.4", field: "rating", value: "tot", by: "Hương")
        let entries = try await hub.auditEntries()
        #expect(entries.map(\.user) == ["Hương", "Hương", HubStore.commandLineUser])
        #expect(entries[0].action == .resolve && entries[0].detail == "muong-lay · II.4 · rating = tot (hub#\(op.sequence))")
        #expect(entries[1].detail == "so-y-te: đoàn đến ngày 02/07/2024" && entries[1].at == fixedHubTime)
        #expect(try await hub.auditEntries(limit: 1, before: entries[0].id) == [entries[1]])
        #expect(try await hub.auditEntries(limit: -5).isEmpty)
        // A refused decision leaves no entry.
        #expect(await Self.code { try await hub.resolve(unit: "muong-lay", item: "II.4", field: "rating", value: "xuất sắc", by: "Hương") } == .invalidValue)
        #expect(await Self.code { try await hub.schedule(unit: "no-such-unit", arrival: CalendarDate(year: 2024, month: 1, day: 1)!, by: "Hương") } == .unknownUnit)
        #expect(try await hub.auditEntries().count == 3)
    }

    @Test func theChangeMarkMovesWithEveryChangeTheOfficeSees() async throws {
        let setup = try Setup()
        let hub = setup.hub
        var marks = [try await hub.changeMark()]
        #expect(try await hub.changeMark() == marks[0], "stable while nothing changes")
        try await hub.resolve(unit: "muong-lay", item: "II.4", field: "status", value: "done", by: "Hương")
        marks.append(try await hub.changeMark())
        try hub.schedule(unit: "muong-lay", arrival: CalendarDate(year: 2024, month: 6, day: 20)!)
        marks.append(try await hub.changeMark())
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: "Lò Văn Thắng")
        marks.append(try await hub.changeMark())
        try hub.addUnit(Plan.Unit(id: "xa-lay-nua", name: "UBND xã Lay Nưa", kind: .direct, parent: "muong-lay"))
        marks.append(try await hub.changeMark())
        _ = try hub.reenrollDevice("dev-a")
        marks.append(try await hub.changeMark())
        try await hub.recordHandshake(device: "dev-a", at: fixedHubTime, clockOffset: 12)
        marks.append(try await hub.changeMark())
        #expect(Set(marks).count == marks.count, "\(marks)")
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InspectorCore
import InspectorDashboard
import InspectorHub
import InspectorPlans
import NIOCore
import Synchronization
@testable import InspectorTestSupport

/// The built-in plan, read once.
let builtInPlan: Plan = {
    do { return try BuiltInPlans.current() } catch { fatalError("the built-in plan does not load: \(error)") }
}()

/// 2024-06-20T03:02:03.456Z.
let fixedHubTime: Int64 = 1_718_852_523_456

/// A hub in a temporary folder with a clock the test moves, two office accounts, and a dashboard
/// over it whose "today" is fixed.
final class DashboardSetup: @unchecked Sendable {  // immutable after init
    static let supervisor = (name: "Nguyễn Thị Hương", password: "mật-khẩu-giám-sát")
    static let viewer = (name: "Phạm Văn Xem", password: "chỉ-xem-thôi-1")

    let folder: URL
    let now = MovableClock(fixedHubTime)
    let hub: HubStore
    let dashboard: Dashboard

    init(today: CalendarDate = CalendarDate(year: 2024, month: 5, day: 28)!) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("inspectorsync-dashboardtests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let now = self.now
        hub = try HubStore.create(at: folder.appendingPathComponent("hub.sqlite").path, plan: builtInPlan, clock: { now.millis })
        try hub.addOfficeUser(name: Self.supervisor.name, role: .supervisor, password: Self.supervisor.password)
        try hub.addOfficeUser(name: Self.viewer.name, role: .viewer, password: Self.viewer.password)
        dashboard = try await Dashboard.make(store: hub, configuration: .init(today: { today }, pollInterval: .milliseconds(20)))
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    func advance(_ millis: Int64) { now.advance(millis) }

    /// Runs `body` against the dashboard's router, without a socket.
    func test<T: Sendable>(_ body: @Sendable (Browser) async throws -> T) async throws -> T {
        let application = Application(router: dashboard.makeRouter())
        return try await application.test(.router) { client in try await body(Browser(client: client)) }
    }
}

/// A browser's part over a test client: a cookie jar and forms.
final class Browser: @unchecked Sendable {  // used by one test task at a time
    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var text: String

        /// The value of the first hidden input named `name`.
        func value(of name: String) -> String? {
            guard let range = text.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }

        var csrf: String? { value(of: "csrf") }
    }

    let client: any TestClientProtocol
    var cookies: [String: String] = [:]

    init(client: any TestClientProtocol) { self.client = client }

    func get(_ uri: String) async throws -> Page { try await send(uri, method: .get, body: nil) }

    func post(_ uri: String, form: [(String, String)]) async throws -> Page {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return try await send(uri, method: .post, body: form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
    }

    func signIn(_ account: (name: String, password: String)) async throws -> Page {
        let form = try await get("/sign-in")
        return try await post("/sign-in", form: [("csrf", form.csrf ?? ""), ("next", "/"), ("name", account.name), ("password", account.password)])
    }

    func send(_ uri: String, method: HTTPRequest.Method, body: String?) async throws -> Page {
        var headers: HTTPFields = [:]
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        for value in response.headers[values: .setCookie] {
            let pair = value.split(separator: ";").first.map(String.init) ?? ""
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<equals]), cookie = String(pair[pair.index(after: equals)...])
            cookies[name] = cookie.isEmpty ? nil : cookie
        }
        return Page(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }
}

import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore

/// A browser's part for tests of the dashboard over real HTTP: one connection, a cookie jar, forms.
final class DashboardClient: @unchecked Sendable {
    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }

        /// The anti-forgery token of the page's first form.
        var csrf: String? { value(of: "csrf") }

        /// The value of the first hidden input named `name`.
        func value(of name: String) -> String? {
            guard let range = text.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    let host: String
    let port: Int
    private let client: TestClient
    private var cookies: [String: String] = [:]

    init(address: String) {
        let parts = address.split(separator: ":")
        host = String(parts[0])
        port = Int(parts[1])!
        client = TestClient(host: host, port: port, configuration: .init(timeout: .seconds(60)))
        client.connect()
    }

    func close() async { try? await client.shutdown() }

    func get(_ path: String) async throws -> Page {
        try await send(path, method: .get, body: nil)
    }

    /// Posts a form, `application/x-www-form-urlencoded`.
    func post(_ path: String, form: [(String, String)]) async throws -> Page {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        return try await send(path, method: .post, body: body, contentType: "application/x-www-form-urlencoded")
    }

    /// Signs in through the form, as a person would: the form's page first, then the post.
    func signIn(name: String, password: String) async throws -> Page {
        let form = try await get("/sign-in")
        return try await post("/sign-in", form: [("csrf", form.csrf ?? ""), ("next", "/"), ("name", name), ("password", password)])
    }

    func forgetCookies() { cookies = [:] }

    private func send(_ path: String, method: HTTPRequest.Method, body: String?, contentType: String? = nil) async throws -> Page {
        var headers: HTTPFields = [:]
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if let contentType { headers[.contentType] = contentType }
        let response = try await client.execute(TestClient.Request(path, method: method, authority: "\(host):\(port)", headers: headers,
                                                                   body: body.map { ByteBuffer(string: $0) }))
        for field in response.headers where field.name == .setCookie {
            let pair = field.value.split(separator: ";").first.map(String.init) ?? ""
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
            if value.isEmpty || field.value.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        return Page(status: response.status, headers: response.headers, body: response.body.map { Array($0.readableBytesView) } ?? [])
    }
}

extension DashboardClient {
    /// The cookies, as a `Cookie` header.
    var cookieHeader: String { cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }

    /// Sends a GET on a new blocking socket and returns what arrives until `marker` (or the
    /// timeout): for a response that never ends, an event stream.
    func readOpenResponse(path: String, until marker: String, timeout: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProcessError.launch("socket() failed") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ProcessError.launch("cannot connect to \(host):\(port)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nCookie: \(cookieHeader)\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(Double(timeout))
        while Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[0..<count]
            let text = String(decoding: received, as: UTF8.self)
            if let headerEnd = text.range(of: "\r\n\r\n"), text[headerEnd.upperBound...].contains(marker) { return text }
        }
        return String(decoding: received, as: UTF8.self)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client over one keep-alive connection, with a cookie jar: enough to time the
/// dashboard's pages from outside its process, without a client library's overhead in the figure.
final class HTTPClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }

        func hiddenValue(_ name: String) -> String? {
            guard let range = text.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    let host: String
    let port: UInt16
    private var fd: Int32 = -1
    private var cookies: [String: String] = [:]
    private var pending: [UInt8] = []

    init(address: String) throws {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { throw BenchmarkError("bad address \(address)") }
        host = String(parts[0])
        self.port = port
        try connect()
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    private func connect() throws {
        if fd >= 0 { Glibc.close(fd) }
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw BenchmarkError("cannot connect to the dashboard at \(host):\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        pending = []
    }

    func request(_ method: String, _ path: String, form: [(String, String)]? = nil) throws -> Response {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = form.map { $0.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&") } ?? ""
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        if !cookies.isEmpty { head += "Cookie: " + cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") + "\r\n" }
        if form != nil { head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n" }
        let bytes = Array((head + "\r\n" + body).utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw BenchmarkError("the dashboard closed the connection") }
            sent += n
        }
        let response = try readResponse()
        for (name, value) in response.headers where name == "set-cookie" {
            let pair = value.split(separator: ";").first.map(String.init) ?? ""
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let key = String(pair[..<equals]), cookie = String(pair[pair.index(after: equals)...])
            cookies[key] = cookie.isEmpty ? nil : cookie
        }
        return response
    }

    private func fill() throws {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw BenchmarkError("the dashboard closed the connection") }
        pending += buffer[0..<n]
    }

    private func readResponse() throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while end == nil {
            if pending.count >= 4 {
                end = (0...(pending.count - 4)).first { pending[$0..<$0 + 4].elementsEqual(separator) }
            }
            if end == nil { try fill() }
        }
        let headText = String(decoding: pending[0..<end!], as: UTF8.self)
        pending.removeFirst(end! + 4)
        let lines = headText.components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body: [UInt8] = []
        if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) {
            while pending.count < length { try fill() }
            body = Array(pending[0..<length])
            pending.removeFirst(length)
        } else if headers.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            while true {
                var lineEnd: Int?
                while lineEnd == nil {
                    lineEnd = pending.count >= 2 ? (0..<(pending.count - 1)).first { pending[$0] == 13 && pending[$0 + 1] == 10 } : nil
                    if lineEnd == nil { try fill() }
                }
                let size = Int(String(decoding: pending[0..<lineEnd!], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
                pending.removeFirst(lineEnd! + 2)
                while pending.count < size + 2 { try fill() }
                body += pending[0..<size]
                pending.removeFirst(size + 2)
                if size == 0 { break }
            }
        }
        return Response(status: status, headers: headers, body: body)
    }
}

/// The value, or a benchmark error naming what was missing.
func unwrap<T>(_ value: T?, _ message: String) throws -> T {
    guard let value else { throw BenchmarkError(message) }
    return value
}

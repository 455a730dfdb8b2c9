import Foundation
import HTTPTypes
import Hummingbird
import InspectorCore

/// An error of the dashboard that maps itself to an HTTP response: a status from its code (one
/// place, ``status``) and a short page in Vietnamese and English that names the problem.
///
/// Errors of the layers below (an unknown unit, an invalid value) reach the browser through
/// ``init(_:)``, keeping their code.
public struct DashboardError: InspectorError, HTTPResponseError, Hashable {
    public var code: ErrorCode
    public var message: String
    /// Seconds the client should wait (`Retry-After`), for a throttled sign-in.
    public var retryAfter: Int?

    public init(_ code: ErrorCode, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    /// The dashboard's view of any error: an ``InspectorCore/InspectorError`` keeps its code and
    /// message; anything else is `internal`, without its details.
    public init(_ error: any Error) {
        if let error = error as? DashboardError {
            self = error
        } else if let error = error as? any InspectorError {
            self.init(error.code, error.message)
        } else {
            self.init(.internal, "the hub could not answer this request")
        }
    }

    /// The HTTP status of each code.
    public var status: HTTPResponse.Status {
        switch code {
        case .notSignedIn, .signInFailed: .unauthorized
        case .forbidden, .csrfFailed: .forbidden
        case .signInThrottled: .tooManyRequests
        case .notFound, .unknownUnit, .unknownDevice, .unknownAttachment: .notFound
        case .alreadyExists: .conflict
        case .unknownItem, .unknownField, .invalidValue, .invalidText, .invalidArgument, .outOfScope: .badRequest
        default: .internalServerError
        }
    }

    var title: String {
        switch code {
        case .notSignedIn: "Chưa đăng nhập"
        case .signInFailed: "Đăng nhập không thành công"
        case .signInThrottled: "Tạm khóa đăng nhập"
        case .forbidden: "Không có quyền"
        case .csrfFailed: "Biểu mẫu không hợp lệ"
        case .notFound, .unknownUnit, .unknownDevice, .unknownAttachment: "Không tìm thấy"
        case .alreadyExists: "Đã có"
        default: status.code >= 500 ? "Lỗi máy chủ" : "Dữ liệu không hợp lệ"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let page = """
            <!DOCTYPE html>
            <html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title))</title><link rel="stylesheet" href="/style.css"></head>
            <body><main class="error"><h1>\(HTML.escape(title))</h1>
            <p>\(HTML.escape(message)) <code>[\(HTML.escape(code.rawValue))]</code></p>
            <p><a href="/">Về trang tổng quan</a> · <a href="/sign-in">Đăng nhập</a></p></main></body></html>
            """
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }
}

/// Escaping for the few strings the dashboard writes outside its templates.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}

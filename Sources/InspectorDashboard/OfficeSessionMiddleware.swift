import Foundation
import HTTPTypes
import Hummingbird
import InspectorCore
import InspectorHub

/// Every request of the dashboard goes through here:
///
/// - the session cookie is looked up, and the account put in the context;
/// - a page asked for without a session is answered with a redirect to the sign-in form (its few
///   public paths excepted); any other request without one is refused with `not_signed_in`;
/// - a POST's form is read, and every POST but the sign-in form must carry the session's
///   anti-forgery token (`csrf_failed` otherwise), checked before its handler runs;
/// - an error of any layer is answered as a ``DashboardError``, and every response gets the
///   security headers (no framing, no sniffing, same-origin scripts and forms only).
struct OfficeSessionMiddleware: RouterMiddleware {
    typealias Context = DashboardContext
    static let sessionCookie = "inspector_session"
    static let signInCookie = "inspector_sign_in"

    let store: HubStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await admit(request, context: context, next: next)
        } catch {
            response = try DashboardError(error).response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] = response.headers[.contentSecurityPolicy]
            ?? "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return response
    }

    private func admit(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        if let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty, token.utf8.count <= 128,
           let session = try await store.officeSession(token: token) {
            context.session = session
            context.sessionToken = token
        }
        let path = request.uri.path
        let isPublic = path == "/sign-in" || path.hasPrefix("/sign-in/link/") || path == "/style.css" || path == "/live.js"
        if request.method == .post {
            let body = try await request.collectBody(upTo: context.maxUploadSize)
            context.form = Self.parseForm(String(buffer: body))
            if path != "/sign-in" {
                guard let session = context.session else { throw DashboardError(.notSignedIn, "sign in first: this form needs a signed-in account") }
                guard let sent = context.form["csrf"], Self.isEqual(sent, session.csrfToken) else {
                    throw DashboardError(.csrfFailed, "the form does not carry this session's token; reload the page and send it again")
                }
            }
        } else if !isPublic && context.session == nil {
            guard request.method == .get || request.method == .head else {
                throw DashboardError(.notSignedIn, "sign in first")
            }
            let target = request.uri.query.map { "\(path)?\($0)" } ?? path
            return .redirect(to: "/sign-in?next=\(Self.percentEncoded(target))", type: .normal)
        }
        return try await next(request, context)
    }

    /// `application/x-www-form-urlencoded`, in NFC; a repeated name keeps its first value.
    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String? {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding.map(Text.nfc)
            }
            guard let name = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else { continue }
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/"
    }

    /// Compares two tokens in time that does not depend on where they differ.
    static func isEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    /// A place to go after signing in: a path of this site only (never `//host` or a full URL).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"),
              next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else { return "/" }
        return next
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import InspectorCore
import InspectorHub
import NIOCore

extension Dashboard {
    func addSignInRoutes(to router: Router<DashboardContext>) {
        // The form carries a token that must equal its cookie's (double submit): a page of another
        // site cannot sign a browser into an account of its choosing.
        router.get("/sign-in") { request, context in
            let next = OfficeSessionMiddleware.safeNext(request.uri.queryParameters.get("next"))
            if context.session != nil { return Response.redirect(to: next, type: .normal) }
            return try self.signInForm(next: next, name: "", error: nil, status: .ok)
        }
        router.post("/sign-in") { request, context in
            let form = context.form
            let next = OfficeSessionMiddleware.safeNext(form["next"])
            let name = Text.nfc(form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            guard let cookie = request.cookies[OfficeSessionMiddleware.signInCookie]?.value, let sent = form["csrf"],
                  OfficeSessionMiddleware.isEqual(cookie, sent) else {
                return try self.signInForm(next: next, name: name, error: "Biểu mẫu đã cũ: hãy đăng nhập lại. (csrf_failed)", status: .forbidden)
            }
            let keys = ["name:" + name, "address:" + (context.remoteAddress?.ipAddress ?? "?")]
            if let wait = self.throttle.wait(for: keys) {
                return try self.signInForm(next: next, name: name,
                                           error: "Đăng nhập sai quá nhiều lần: hãy thử lại sau \(wait) giây. (sign_in_throttled)",
                                           status: .tooManyRequests, headers: [.retryAfter: String(wait)])
            }
            do {
                let token = try await self.store.signIn(name: name, password: form["password"] ?? "").token
                self.throttle.succeeded(keys[0])
                var response = Response.redirect(to: next, type: .normal)
                response.setCookie(self.cookie(OfficeSessionMiddleware.sessionCookie, token, maxAge: Int(HubStore.officeSessionLength / 1000)))
                response.setCookie(self.cookie(OfficeSessionMiddleware.signInCookie, "", maxAge: 0))
                return response
            } catch let error as HubError where error.code == .signInFailed {
                self.throttle.failed(keys)
                self.configuration.logger.notice("failed sign-in", metadata: ["name": "\(name)", "address": "\(context.remoteAddress?.description ?? "?")"])
                return try self.signInForm(next: next, name: name, error: "Tên đăng nhập hoặc mật khẩu không đúng. (sign_in_failed)", status: .unauthorized)
            }
        }
        router.get("/sign-in/link/{token}") { request, context in
            let token = context.parameters.get("token") ?? ""
            guard token.utf8.count <= 128 else { throw DashboardError(.signInFailed, "this sign-in link is unknown, used or expired") }
            let (_, sessionToken) = try await self.store.redeemSignInLink(token)
            var response = Response.redirect(to: OfficeSessionMiddleware.safeNext(request.uri.queryParameters.get("next")), type: .normal)
            response.setCookie(self.cookie(OfficeSessionMiddleware.sessionCookie, sessionToken, maxAge: Int(HubStore.officeSessionLength / 1000)))
            return response
        }
        router.post("/sign-out") { _, context in
            if let token = context.sessionToken { try await self.store.signOut(token: token) }
            var response = Response.redirect(to: "/sign-in", type: .normal)
            response.setCookie(self.cookie(OfficeSessionMiddleware.sessionCookie, "", maxAge: 0))
            return response
        }
    }

    func signInForm(next: String, name: String, error: String?, status: HTTPResponse.Status, headers: HTTPFields = [:]) throws -> Response {
        let token = HubStore.makeToken()
        var response = try page(SignInPage(csrf: token, next: next, name: name, error: error,
                                        plan: "\(store.replica.plan.title) (\(store.replica.plan.reference))"), template: "sign-in", status: status, headers: headers)
        response.setCookie(cookie(OfficeSessionMiddleware.signInCookie, token, maxAge: 3600))
        return response
    }
}

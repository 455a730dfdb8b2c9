import Hummingbird
import InspectorHub
import NIOCore

/// The context of one dashboard request: the client's address, its signed-in session (set by
/// ``OfficeSessionMiddleware``) and, for a POST, the fields of its form.
public struct DashboardContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connected client's address (sign-in throttling counts failures per address).
    public let remoteAddress: SocketAddress?
    /// The signed-in session, if any.
    public var session: OfficeSession?
    /// The secret token of that session, from its cookie.
    var sessionToken: String?
    /// The fields of a posted form (`application/x-www-form-urlencoded`), read once by the middleware.
    public var form: [String: String] = [:]

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Forms are small: names, values, a date.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The signed-in account, or `not_signed_in`.
    func requireSession() throws -> OfficeSession {
        guard let session else { throw DashboardError(.notSignedIn, "sign in first") }
        return session
    }

    /// The signed-in account if it may record decisions, or `forbidden`.
    func requireSupervisor() throws -> OfficeSession {
        let session = try requireSession()
        guard session.user.role.canDecide else {
            throw DashboardError(.forbidden, "the account '\(session.user.name)' is a viewer: it may read every page but not decide")
        }
        return session
    }
}

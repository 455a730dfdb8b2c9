import Foundation
import HTTPTypes
import Hummingbird
import InspectorCore
import InspectorHub
import InspectorReports
import Logging
import Mustache
import NIOCore
import Synchronization

/// The office's dashboard over a hub: server-rendered pages (Mustache templates, no JavaScript
/// needed), office accounts with roles, decisions through forms, the export files, live updates.
///
/// ```swift
/// let dashboard = try await Dashboard.make(store: hub, configuration: .init())
/// let app = dashboard.makeApplication(host: "127.0.0.1", port: 0) { address in print("dashboard on http://\(address)") }
/// try await app.runService()
/// ```
///
/// Pages read a ``DashboardSnapshot`` kept until the hub's change mark moves, so a page costs a
/// lookup; the mark is polled every ``Configuration/pollInterval`` by `/events`, which tells open
/// pages to reload.
public struct Dashboard: Sendable {
    public struct Configuration: Sendable {
        /// The day deadlines are checked against; by default today in Vietnam (UTC+7).
        public var today: @Sendable () -> CalendarDate
        /// How often `/events` looks for a change.
        public var pollInterval: Duration
        /// Sets `Secure` on cookies: for a dashboard reached over HTTPS (behind a TLS proxy).
        public var secureCookies: Bool
        /// From this many ops at the hub, pages are served from the previous snapshot while the next
        /// is built (a rebuild takes ~1.6 s at 10⁶ ops); below it, every page waits for the rebuild.
        public var staleSnapshotsFromOperations: Int64
        /// The throttle's clock, ms; the hub's clock by default.
        public var clock: (@Sendable () -> Int64)?
        public var logger: Logger

        public init(today: @escaping @Sendable () -> CalendarDate = { CalendarDate.today(utcOffsetHours: 7) },
                    pollInterval: Duration = .milliseconds(500), secureCookies: Bool = false,
                    staleSnapshotsFromOperations: Int64 = 100_000,
                    clock: (@Sendable () -> Int64)? = nil, logger: Logger = Logger(label: "inspectorsync.dashboard")) {
            self.staleSnapshotsFromOperations = staleSnapshotsFromOperations
            self.today = today
            self.pollInterval = pollInterval
            self.secureCookies = secureCookies
            self.clock = clock
            self.logger = logger
        }
    }

    public let store: HubStore
    public let configuration: Configuration
    let cache: SnapshotCache
    let throttle: SignInThrottle
    let templates: MustacheLibrary
    let stylesheet: String
    let script: String
    /// Set when the server shuts down: open event streams end.
    let stopping = Stopping()

    final class Stopping: Sendable {
        private let flag = Atomic<Bool>(false)
        func stop() { flag.store(true, ordering: .relaxed) }
        var isStopped: Bool { flag.load(ordering: .relaxed) }
    }

    /// Loads the templates and makes a dashboard over a hub's store.
    public static func make(store: HubStore, configuration: Configuration = .init()) async throws -> Dashboard {
        guard let folder = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw DashboardError(.internal, "the dashboard's templates are missing from the package's resources")
        }
        let templates = try await MustacheLibrary(directory: folder.path)
        let stylesheet = try String(contentsOf: folder.appendingPathComponent("style.css"), encoding: .utf8)
        let script = try String(contentsOf: folder.appendingPathComponent("live.js"), encoding: .utf8)
        return Dashboard(store: store, configuration: configuration, templates: templates, stylesheet: stylesheet, script: script)
    }

    private init(store: HubStore, configuration: Configuration, templates: MustacheLibrary, stylesheet: String, script: String) {
        self.store = store
        self.configuration = configuration
        self.cache = SnapshotCache(store: store, today: configuration.today, staleFromOperations: configuration.staleSnapshotsFromOperations)
        self.throttle = SignInThrottle(clock: configuration.clock ?? { store.now() })
        self.templates = templates
        self.stylesheet = stylesheet
        self.script = script
    }

    /// The router with every page, form and download behind the session middleware.
    public func makeRouter() -> Router<DashboardContext> {
        let router = Router(context: DashboardContext.self)
        router.add(middleware: OfficeSessionMiddleware(store: store))
        addRoutes(to: router)
        return router
    }

    /// An HTTP/1.1 server for the dashboard; `onRunning` gets `HOST:PORT` once it accepts connections.
    public func makeApplication(host: String, port: Int,
                                onRunning: @escaping @Sendable (String) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: makeRouter(),
                    configuration: .init(address: .hostname(host, port: port), serverName: "InspectorSync"),
                    onServerRunning: { channel in
                        let local = channel.localAddress
                        let shownHost = local?.ipAddress ?? host
                        let shownPort = local?.port ?? port
                        await onRunning(shownHost.contains(":") ? "[\(shownHost)]:\(shownPort)" : "\(shownHost):\(shownPort)")
                    },
                    logger: configuration.logger)
    }

    /// Ends the open event streams, so that a graceful shutdown does not wait for them.
    public func stopLiveUpdates() { stopping.stop() }

    // MARK: Rendering

    func page(_ object: Any, template: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) throws -> Response {
        guard let html = templates.render(object, withTemplate: template) else {
            throw DashboardError(.internal, "the dashboard has no template '\(template)'")
        }
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func cookie(_ name: String, _ value: String, maxAge: Int?) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: configuration.secureCookies, httpOnly: true, sameSite: .lax)
    }
}

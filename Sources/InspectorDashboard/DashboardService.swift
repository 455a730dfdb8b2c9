import Hummingbird
import ServiceLifecycle

/// The dashboard as a service of a `ServiceGroup`: it serves until the group shuts down gracefully,
/// and then first ends the open event streams (which would otherwise keep their requests open).
public struct DashboardService<App: ApplicationProtocol>: Service {
    public let dashboard: Dashboard
    public let application: App

    public init(dashboard: Dashboard, application: App) {
        self.dashboard = dashboard
        self.application = application
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await application.run()
        } onGracefulShutdown: {
            dashboard.stopLiveUpdates()
        }
    }
}

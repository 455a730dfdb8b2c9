import ServiceLifecycle

extension HubServer {
    /// A running server as a service of a `ServiceGroup` (with the dashboard, in `hub serve --http`):
    /// it serves until the group shuts down gracefully, then stops accepting and closes its connections.
    public struct Service: ServiceLifecycle.Service {
        public let running: Running

        public init(running: Running) {
            self.running = running
        }

        public func run() async throws {
            try await withGracefulShutdownHandler {
                try await running.run()
            } onGracefulShutdown: {
                running.stop()
            }
        }
    }
}

import Dispatch
import Foundation

/// Runs a handler when the process receives one of some signals (SIGTERM, SIGINT), instead of dying.
public final class SignalTrap: @unchecked Sendable {  // the sources are only created in init and cancelled once
    private let sources: [any DispatchSourceSignal]

    /// Starts trapping `signals`; `handler` runs on a background queue each time one arrives.
    public init(signals: [Int32], handler: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "inspectorsync.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    /// Stops trapping.
    public func cancel() {
        for source in sources { source.cancel() }
    }
}

import Synchronization

/// The wall clock injected into a fuzzed hub (`HubStore.create(at:plan:clock:)`): it stands still
/// until the session moves it, and it only moves forward, so a session replays exactly and the
/// clock bounds are checked against a known time.
final class HubFuzzClock: Sendable {
    private let value: Mutex<Int64>

    init(_ millis: Int64) {
        value = Mutex(millis)
    }

    /// The time, ms since the epoch.
    var now: Int64 { value.withLock { $0 } }

    /// Moves the clock forward by `millis`, never past `limit`.
    func advance(by millis: Int64, upTo limit: Int64) {
        value.withLock { current in
            let (sum, overflow) = current.addingReportingOverflow(max(millis, 0))
            current = overflow ? limit : min(sum, limit)
        }
    }

    /// The closure the hub reads.
    var read: @Sendable () -> Int64 { { [self] in self.now } }
}

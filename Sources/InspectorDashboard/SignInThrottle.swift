import Synchronization

/// Slows down guessing: once ``freeFailures`` sign-ins for one account name, or from one client
/// address, have failed within ``window``, each further attempt must wait, twice as long after each
/// failure (1 s after the fifth, 2 s after the sixth, 4 s … up to ``maximumDelay``). A waiting attempt is refused with
/// `sign_in_throttled` before its password is checked. A success clears the account's count.
///
/// The clock is injected (milliseconds), so tests do not sleep.
public final class SignInThrottle: Sendable {
    public static let freeFailures = 5
    /// Failures older than this are forgotten: 15 minutes.
    public static let window: Int64 = 15 * 60_000
    /// The longest wait: 5 minutes.
    public static let maximumDelay: Int64 = 5 * 60_000
    /// Keys remembered at most: past it, the half with the oldest last failure is forgotten, so that
    /// a flood of made-up names cannot grow the table without bound.
    public static let maximumKeys = 10_000
    /// A key's longest length: a name posted 64 KiB long is counted by its first characters.
    public static let maximumKeyLength = 200

    private struct Record {
        var failures: [Int64] = []
        var blockedUntil: Int64 = 0
    }

    private let clock: @Sendable () -> Int64
    private let records = Mutex<[String: Record]>([:])

    public init(clock: @escaping @Sendable () -> Int64) {
        self.clock = clock
    }

    /// How many seconds the keys must still wait, or nil when an attempt may go ahead.
    public func wait(for keys: [String]) -> Int? {
        let now = clock()
        let until = records.withLock { records in keys.compactMap { records[Self.bounded($0)]?.blockedUntil }.max() ?? 0 }
        guard until > now else { return nil }
        return Int((until - now + 999) / 1000)
    }

    /// Counts a failed attempt against every key.
    public func failed(_ keys: [String]) {
        let now = clock()
        records.withLock { records in
            for key in keys.map(Self.bounded) {
                var record = records[key] ?? Record()
                record.failures = record.failures.filter { now - $0 < Self.window } + [now]
                let over = record.failures.count - Self.freeFailures
                if over >= 0 {
                    let delay = min(Self.maximumDelay, 1000 << min(over, 20))
                    record.blockedUntil = now + delay
                }
                records[key] = record
            }
            // Forget keys whose failures have all aged out; if still too many, the older half.
            if records.count > Self.maximumKeys {
                records = records.filter { _, record in record.failures.contains { now - $0 < Self.window } || record.blockedUntil > now }
            }
            if records.count > Self.maximumKeys {
                let kept = records.sorted { ($0.value.failures.last ?? 0) > ($1.value.failures.last ?? 0) }.prefix(Self.maximumKeys / 2)
                records = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
            }
        }
    }

    /// Clears a key after a successful sign-in.
    public func succeeded(_ key: String) {
        _ = records.withLock { $0.removeValue(forKey: Self.bounded(key)) }
    }

    /// How many keys are remembered.
    public var count: Int { records.withLock { $0.count } }

    static func bounded(_ key: String) -> String { String(key.prefix(maximumKeyLength)) }
}

/// The hybrid logical clock of one device (Kulkarni et al., 2014).
///
/// The clock combines the device's physical time with a logical counter so that an event stamped
/// after another one was seen always gets a greater timestamp, even when the physical clock is
/// behind. Physical time may be corrected by an offset measured against the hub (see
/// ``physicalMillis(now:offset:)``).
///
/// ```swift
/// var clock = HybridLogicalClock(device: "dev-a")
/// let t1 = clock.tick(physical: 1_000)                 // 1000#0@dev-a
/// clock.receive(HLCTimestamp(millis: 5_000, counter: 3, device: "dev-b"), physical: 1_001)
/// let t2 = clock.tick(physical: 1_002)                 // 5000#5@dev-a, after what it saw
/// ```
public struct HybridLogicalClock: Hashable, Sendable {
    /// The device whose events this clock stamps.
    public let device: String
    /// The greatest physical part issued or seen so far.
    public private(set) var millis: Int64
    /// The logical counter belonging to ``millis``.
    public private(set) var counter: Int64

    /// Creates a clock; `millis` and `counter` restore a persisted state.
    public init(device: String, millis: Int64 = 0, counter: Int64 = 0) {
        self.device = device
        self.millis = millis
        self.counter = counter
    }

    /// Stamps a local event (a send, in the paper's terms).
    ///
    /// - Parameter physical: the physical time in milliseconds, already corrected by the hub offset.
    /// - Returns: a timestamp greater than every timestamp issued or received before.
    public mutating func tick(physical: Int64) -> HLCTimestamp {
        if physical > millis {
            millis = physical
            counter = 0
        } else {
            counter += 1
        }
        return HLCTimestamp(millis: millis, counter: counter, device: device)
    }

    /// Advances the clock past a timestamp received from another replica.
    ///
    /// - Parameters:
    ///   - remote: the timestamp seen.
    ///   - physical: the local physical time in milliseconds, corrected by the hub offset.
    public mutating func receive(_ remote: HLCTimestamp, physical: Int64) {
        let newMillis = max(millis, remote.millis, physical)
        if newMillis == millis && newMillis == remote.millis {
            counter = max(counter, remote.counter) + 1
        } else if newMillis == millis {
            counter += 1
        } else if newMillis == remote.millis {
            counter = remote.counter + 1
        } else {
            counter = 0
        }
        millis = newMillis
    }

    /// The physical time to feed the clock: the wall clock corrected by the offset to the hub.
    ///
    /// - Parameters:
    ///   - now: the device's wall clock in milliseconds since the epoch.
    ///   - offset: hub time minus device time, in milliseconds, as last measured (0 if never).
    public static func physicalMillis(now: Int64, offset: Int64) -> Int64 {
        now &+ offset
    }
}

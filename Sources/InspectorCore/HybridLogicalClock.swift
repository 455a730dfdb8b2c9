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
        // A persisted state is clamped into the valid ranges: a damaged file cannot make the clock overflow.
        self.millis = HLCTimestamp.clamp(millis: millis)
        self.counter = min(max(counter, 0), HLCTimestamp.maximumCounter)
    }

    /// Stamps a local event (a send, in the paper's terms).
    ///
    /// - Parameter physical: the physical time in milliseconds, already corrected by the hub offset.
    /// - Returns: a timestamp greater than every timestamp issued or received before.
    ///
    /// The clock never overflows: physical time is clamped to ``HLCTimestamp/validMillis``, and a
    /// counter that would pass ``HLCTimestamp/maximumCounter`` carries into the next millisecond
    /// (as if the physical clock had ticked). Only a clock already at the last valid timestamp
    /// cannot advance; it then returns that timestamp again (``isExhausted``), which a store refuses.
    public mutating func tick(physical: Int64) -> HLCTimestamp {
        let physical = HLCTimestamp.clamp(millis: physical)
        if physical > millis {
            millis = physical
            counter = 0
        } else {
            advanceCounter(from: counter)
        }
        return HLCTimestamp(millis: millis, counter: counter, device: device)
    }

    /// Whether the clock stands at the last valid timestamp and cannot stamp a greater one.
    public var isExhausted: Bool {
        millis >= HLCTimestamp.validMillis.upperBound && counter >= HLCTimestamp.maximumCounter
    }

    /// Sets the counter to `base + 1`, carrying into the next millisecond past the counter's bound.
    private mutating func advanceCounter(from base: Int64) {
        if base >= HLCTimestamp.maximumCounter {
            if millis < HLCTimestamp.validMillis.upperBound {
                millis += 1
                counter = 0
            } else {
                counter = HLCTimestamp.maximumCounter
            }
        } else {
            counter = max(base, 0) + 1
        }
    }

    /// Advances the clock past a timestamp received from another replica.
    ///
    /// - Parameters:
    ///   - remote: the timestamp seen.
    ///   - physical: the local physical time in milliseconds, corrected by the hub offset.
    ///
    /// Receivers check a timestamp before they merge it (``HLCTimestamp/isValid`` and the
    /// ``futureTolerance``); the clock itself clamps whatever it is given, so it cannot overflow.
    public mutating func receive(_ remote: HLCTimestamp, physical: Int64) {
        let remoteMillis = HLCTimestamp.clamp(millis: remote.millis)
        let remoteCounter = min(max(remote.counter, 0), HLCTimestamp.maximumCounter)
        let newMillis = max(millis, remoteMillis, HLCTimestamp.clamp(millis: physical))
        let base: Int64?
        if newMillis == millis && newMillis == remoteMillis {
            base = max(counter, remoteCounter)
        } else if newMillis == millis {
            base = counter
        } else if newMillis == remoteMillis {
            base = remoteCounter
        } else {
            base = nil
        }
        millis = newMillis
        if let base { advanceCounter(from: base) } else { counter = 0 }
    }

    /// `later − earlier`, bounded to ± the span of valid times (``HLCTimestamp/validMillis``), so that
    /// an offset computed from a peer's clock reading never overflows, nor does its absolute value.
    public static func offset(from earlier: Int64, to later: Int64) -> Int64 {
        let bound = HLCTimestamp.validMillis.upperBound
        let (difference, overflow) = later.subtractingReportingOverflow(earlier)
        if overflow { return later < earlier ? -bound : bound }
        return min(max(difference, -bound), bound)
    }

    /// How far ahead of a receiver's clock an operation's physical time may be: 10 minutes.
    ///
    /// A receiver (the hub against its wall clock, a device against its hub-corrected clock)
    /// refuses an operation stamped later than its clock plus this tolerance (`clock_ahead`), so
    /// no peer can drag other clocks into the future.
    public static let futureTolerance: Int64 = 10 * 60 * 1000

    /// The physical time to feed the clock: the wall clock corrected by the offset to the hub.
    ///
    /// - Parameters:
    ///   - now: the device's wall clock in milliseconds since the epoch.
    ///   - offset: hub time minus device time, in milliseconds, as last measured (0 if never).
    ///
    /// The sum saturates and is clamped to ``HLCTimestamp/validMillis``: no clock reading overflows.
    public static func physicalMillis(now: Int64, offset: Int64) -> Int64 {
        let (sum, overflow) = now.addingReportingOverflow(offset)
        return HLCTimestamp.clamp(millis: overflow ? (offset > 0 ? Int64.max : Int64.min) : sum)
    }
}

/// A hybrid logical clock timestamp: physical milliseconds, a logical counter, and the device id.
///
/// Timestamps are totally ordered: first by ``millis``, then by ``counter``, then by ``device``
/// (plain byte order of the id), so two different devices never produce equal timestamps and
/// last-writer-wins always has exactly one winner.
///
/// ```swift
/// let a = HLCTimestamp(millis: 1_718_845_323_456, counter: 0, device: "dev-a")
/// let b = HLCTimestamp(millis: 1_718_845_323_456, counter: 1, device: "dev-a")
/// assert(a < b)
/// ```
public struct HLCTimestamp: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z, as the clock that stamped the event saw them.
    public var millis: Int64
    /// The logical counter that orders events within one millisecond.
    public var counter: Int64
    /// The device that stamped the event; the final tie-break.
    public var device: String

    public init(millis: Int64, counter: Int64, device: String) {
        self.millis = millis
        self.counter = counter
        self.device = device
    }

    /// The valid physical parts: from the epoch to 9999-12-31T23:59:59.999Z (PROTOCOL.md 7.1).
    ///
    /// The upper bound is below 2⁴⁸, so a physical part and a 16-bit counter pack into one 64-bit integer.
    public static let validMillis: ClosedRange<Int64> = 0...253_402_300_799_999

    /// The greatest logical counter: 65,535 (PROTOCOL.md 7.1).
    public static let maximumCounter: Int64 = 65_535

    /// Whether both parts are within their valid ranges.
    public var isValid: Bool {
        HLCTimestamp.validMillis.contains(millis) && (0...HLCTimestamp.maximumCounter).contains(counter)
    }

    /// `millis` clamped to ``validMillis``.
    public static func clamp(millis: Int64) -> Int64 {
        min(max(millis, validMillis.lowerBound), validMillis.upperBound)
    }

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool {
        if lhs.millis != rhs.millis { return lhs.millis < rhs.millis }
        if lhs.counter != rhs.counter { return lhs.counter < rhs.counter }
        return Array(lhs.device.utf8).lexicographicallyPrecedes(rhs.device.utf8)
    }

    /// The physical part as an ISO 8601 UTC string with milliseconds, e.g. `2024-06-20T01:02:03.456Z`.
    public var isoTime: String { ISOTime.format(millis: millis) }

    public var description: String { "\(isoTime)#\(counter)@\(device)" }
}

import InspectorCore
@testable import InspectorStore
import Testing

/// The clock as the log stores it: one integer that orders as the timestamp.
@Suite struct HLCTimestampPackedTests {
    /// Every valid timestamp comes back from its packed form, and packed order is time order,
    /// across the whole valid range: its ends, 2⁴⁷ (where the unflipped bits would turn negative)
    /// and 2,000 generated pairs (seed printed and pinned).
    @Test func packingRoundTripsAndKeepsTheOrder() {
        let seed: UInt64 = 1181
        print("HLCTimestampPackedTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        let upper = HLCTimestamp.validMillis.upperBound, maxCounter = HLCTimestamp.maximumCounter
        var stamps = [(0, 0), (0, 1), (0, maxCounter), (1, 0), (baseMillis, 7), ((1 << 47) - 1, maxCounter), (1 << 47, 0),
                      (upper - 1, maxCounter), (upper, 0), (upper, maxCounter)].map { HLCTimestamp(millis: $0.0, counter: $0.1, device: "dev-a") }
        for _ in 0..<2000 {
            let millis = Int64(random.next() % UInt64(upper + 1)), counter = Int64(random.next() % UInt64(maxCounter + 1))
            stamps.append(HLCTimestamp(millis: millis, counter: counter, device: "dev-a"))
        }
        for stamp in stamps {
            #expect(HLCTimestamp(packed: stamp.packed, device: "dev-a") == stamp, "\(stamp)")
        }
        for (a, b) in zip(stamps, stamps.dropFirst() + stamps.prefix(1)) {
            #expect((a < b) == (a.packed < b.packed) && (a == b) == (a.packed == b.packed), "\(a) and \(b)")
        }
    }
}

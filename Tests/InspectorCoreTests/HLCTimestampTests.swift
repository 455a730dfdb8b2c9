import InspectorCore
import PropertyBased
import Testing

@Suite struct HLCTimestampTests {
    @Test func millisComeFirst() {
        #expect(ts(1_000, 99, "zz") < ts(1_001, 0, "aa"))
        #expect(!(ts(1_001, 0, "aa") < ts(1_000, 99, "zz")))
    }

    @Test func counterComesSecond() {
        #expect(ts(1_000, 1, "zz") < ts(1_000, 2, "aa"))
        #expect(!(ts(1_000, 2, "aa") < ts(1_000, 1, "zz")))
    }

    @Test func deviceBreaksTiesByteWise() {
        #expect(ts(1_000, 3, "dev-a") < ts(1_000, 3, "dev-b"))
        #expect(!(ts(1_000, 3, "dev-b") < ts(1_000, 3, "dev-a")))
        // A prefix sorts first; '-' (0x2D) < '.' (0x2E) < '0' (0x30) < '_' (0x5F) < 'a' (0x61).
        #expect(ts(5, 0, "dev") < ts(5, 0, "dev-a"))
        #expect(ts(5, 0, "dev-10") < ts(5, 0, "dev-9"))
        #expect(ts(5, 0, "a-b") < ts(5, 0, "a.b"))
        #expect(ts(5, 0, "a.b") < ts(5, 0, "a0b"))
        #expect(ts(5, 0, "a0b") < ts(5, 0, "a_b"))
        #expect(ts(5, 0, "a_b") < ts(5, 0, "aab"))
    }

    @Test func sameDeviceSamePartsAreEqualAndNotLess() {
        let a = ts(7, 7, "dev-a"), b = ts(7, 7, "dev-a")
        #expect(a == b)
        #expect(!(a < b) && !(b < a))
        #expect(ts(7, 7, "dev-a") != ts(7, 7, "dev-b"))
    }

    @Test func totalOrderHoldsForRandomTimestamps() async {
        let devices = ["a", "a0", "dev", "dev-a", "dev-b", "dev-10", "dev-9", "x_y", "x.y"]
        let gen = zip(Gen.int64(in: 0...3), Gen.int64(in: 0...3), Gen.int(in: 0...(devices.count - 1)))
            .map { HLCTimestamp(millis: $0.0, counter: $0.1, device: devices[$0.2]) }
        await propertyCheck(count: 500, input: gen, gen, gen) { a, b, c in
            // Trichotomy: exactly one of a < b, a == b, b < a.
            let relations = [a < b, a == b, b < a].filter { $0 }.count
            #expect(relations == 1, "\(a) vs \(b)")
            // Equality only for identical parts: different devices never tie.
            #expect((a == b) == (a.millis == b.millis && a.counter == b.counter && a.device == b.device))
            // Transitivity.
            if a < b && b < c { #expect(a < c, "\(a) < \(b) < \(c)") }
            // Consistent with the lexicographic order of (millis, counter, device bytes).
            let key = { (t: HLCTimestamp) in (t.millis, t.counter) }
            if key(a) != key(b) { #expect((a < b) == (key(a) < key(b))) }
            else { #expect((a < b) == Array(a.device.utf8).lexicographicallyPrecedes(Array(b.device.utf8))) }
        }
    }

    @Test func isoTimeAndDescription() {
        let t = ts(1_718_845_323_456, 3, "dev-a")
        #expect(t.isoTime == "2024-06-20T01:02:03.456Z")
        #expect(t.description == "2024-06-20T01:02:03.456Z#3@dev-a")
        #expect(ts(0, 0, "d").isoTime == "1970-01-01T00:00:00.000Z")
        #expect(ts(-1, 0, "d").isoTime == "1969-12-31T23:59:59.999Z")
        #expect(ts(86_400_000 - 1, 0, "d").isoTime == "1970-01-01T23:59:59.999Z")
        #expect(ISOTime.format(millis: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }
}

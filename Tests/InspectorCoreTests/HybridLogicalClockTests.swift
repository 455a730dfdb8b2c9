import InspectorCore
import PropertyBased
import Testing

@Suite struct HybridLogicalClockTests {
    @Test func tickUsesPhysicalTimeWhenItAdvances() {
        var clock = HybridLogicalClock(device: "dev-a")
        #expect(clock.tick(physical: 1_000) == ts(1_000, 0, "dev-a"))
        #expect(clock.tick(physical: 1_005) == ts(1_005, 0, "dev-a"))
        #expect(clock.millis == 1_005 && clock.counter == 0)
    }

    @Test func tickIsMonotonicWhenPhysicalTimeStandsStillOrGoesBackwards() {
        var clock = HybridLogicalClock(device: "dev-a")
        var previous: HLCTimestamp?
        for physical: Int64 in [1_000, 1_000, 999, 500, 0, 1_000, 1_001, 1_001, -86_400_000, 1_002] {
            let t = clock.tick(physical: physical)
            if let previous { #expect(previous < t, "tick at physical \(physical) gave \(t), not after \(previous)") }
            #expect(t.millis >= physical)
            previous = t
        }
        // The clock never runs back: after the backwards steps it stays at the greatest physical time seen.
        #expect(previous == ts(1_002, 0, "dev-a"))
    }

    @Test func receiveFromTheFutureMakesTheNextTickGreaterEvenDaysBehind() {
        let day: Int64 = 86_400_000
        let remote = ts(1_718_845_323_456, 7, "dev-b")
        var clock = HybridLogicalClock(device: "dev-a")
        let localPhysical = remote.millis - 3 * day
        let before = clock.tick(physical: localPhysical)
        #expect(before < remote)
        clock.receive(remote, physical: localPhysical + 1)
        let after = clock.tick(physical: localPhysical + 2)
        #expect(after > remote)
        #expect(after.millis == remote.millis)
        #expect(after.counter == remote.counter + 2)
        // And it keeps going up while the local clock stays days behind.
        let next = clock.tick(physical: localPhysical + 3)
        #expect(next > after)
    }

    @Test func receiveBranches() {
        // Remote and local at the same millis: counter goes past both.
        var a = HybridLogicalClock(device: "dev-a", millis: 100, counter: 4)
        a.receive(ts(100, 9, "dev-b"), physical: 50)
        #expect(a.millis == 100 && a.counter == 10)
        var b = HybridLogicalClock(device: "dev-a", millis: 100, counter: 12)
        b.receive(ts(100, 9, "dev-b"), physical: 50)
        #expect(b.millis == 100 && b.counter == 13)
        // Remote in the past: the local state only bumps its counter.
        var c = HybridLogicalClock(device: "dev-a", millis: 100, counter: 2)
        c.receive(ts(40, 9, "dev-b"), physical: 60)
        #expect(c.millis == 100 && c.counter == 3)
        // Physical time ahead of both: counter resets.
        var d = HybridLogicalClock(device: "dev-a", millis: 100, counter: 2)
        d.receive(ts(150, 9, "dev-b"), physical: 200)
        #expect(d.millis == 200 && d.counter == 0)
        // Physical time equal to the remote's, ahead of local: follows the remote counter.
        var e = HybridLogicalClock(device: "dev-a", millis: 100, counter: 2)
        e.receive(ts(200, 9, "dev-b"), physical: 200)
        #expect(e.millis == 200 && e.counter == 10)
    }

    @Test func restoredStateContinuesAfterIt() {
        var clock = HybridLogicalClock(device: "dev-a", millis: 5_000, counter: 3)
        #expect(clock.tick(physical: 10) == ts(5_000, 4, "dev-a"))
    }

    @Test func physicalMillisAddsTheOffset() {
        #expect(HybridLogicalClock.physicalMillis(now: 1_000, offset: 250) == 1_250)
        // Clamped into the valid range, and saturating: no reading overflows.
        #expect(HybridLogicalClock.physicalMillis(now: 1_000, offset: -1_500) == 0)
        #expect(HybridLogicalClock.physicalMillis(now: .max, offset: .max) == HLCTimestamp.validMillis.upperBound)
        #expect(HybridLogicalClock.physicalMillis(now: .min, offset: .min) == 0)
    }

    @Test func counterAtItsBoundCarriesIntoTheNextMillisecond() {
        var clock = HybridLogicalClock(device: "dev-a", millis: 5_000, counter: HLCTimestamp.maximumCounter)
        #expect(clock.tick(physical: 10) == ts(5_001, 0, "dev-a"))
        var receiving = HybridLogicalClock(device: "dev-a", millis: 5_000, counter: 3)
        receiving.receive(ts(5_000, HLCTimestamp.maximumCounter, "dev-b"), physical: 10)
        #expect(receiving.millis == 5_001 && receiving.counter == 0)
    }

    @Test func hostileRemoteTimestampsNeverOverflow() {
        for remote in [ts(.max, .max, "dev-b"), ts(.min, .min, "dev-b"), ts(.max, -1, "dev-b"), ts(0, .max, "dev-b")] {
            var clock = HybridLogicalClock(device: "dev-a", millis: 1_000, counter: 0)
            clock.receive(remote, physical: .max)
            #expect(HLCTimestamp.validMillis.contains(clock.millis) && (0...HLCTimestamp.maximumCounter).contains(clock.counter), "\(remote)")
            _ = clock.tick(physical: .max)
            #expect(HLCTimestamp.validMillis.contains(clock.millis))
        }
        var last = HybridLogicalClock(device: "dev-a", millis: .max, counter: .max)
        #expect(last.isExhausted)
        #expect(last.tick(physical: 0) == ts(HLCTimestamp.validMillis.upperBound, HLCTimestamp.maximumCounter, "dev-a"))
    }

    /// Any interleaving of ticks and receives: every tick is greater than everything issued or seen before.
    @Test func everyTickExceedsEverythingBefore() async {
        let events = zip(Gen.bool, Gen.int64(in: 0...40), Gen.int64(in: 0...5)).array(of: 1...60)
        await propertyCheck(count: 300, input: events) { events in
            var clock = HybridLogicalClock(device: "dev-m")
            var greatest: HLCTimestamp?
            for (isReceive, physical, counter) in events {
                if isReceive {
                    let remote = ts(physical * 3, counter, "dev-r")
                    clock.receive(remote, physical: physical)
                    if greatest.map({ $0 < remote }) ?? true { greatest = remote }
                } else {
                    let t = clock.tick(physical: physical)
                    if let greatest { #expect(greatest < t, "\(t) is not after \(greatest); events \(events)") }
                    greatest = t
                }
            }
        }
    }
}

import Synchronization
import Testing
@testable import InspectorDashboard

/// Failed sign-ins slow the next attempts down: after five, 1 s, then 2 s, 4 s … up to 5 minutes.
@Suite struct SignInThrottleTests {
    final class Clock: Sendable {
        let now = Atomic<Int64>(1_000_000)
        func advance(_ millis: Int64) { now.add(millis, ordering: .relaxed) }
    }

    @Test func fiveFailuresAreFreeThenTheWaitDoubles() {
        let clock = Clock()
        let throttle = SignInThrottle { clock.now.load(ordering: .relaxed) }
        let keys = ["name:Hương", "address:10.0.0.7"]
        for _ in 0..<SignInThrottle.freeFailures {
            #expect(throttle.wait(for: keys) == nil, "four failures cost nothing")
            throttle.failed(keys)
        }
        #expect(throttle.wait(for: keys) == 1, "the fifth makes the sixth attempt wait")
        #expect(throttle.wait(for: ["address:10.0.0.7"]) == 1, "the address is held too")
        #expect(throttle.wait(for: ["name:Other"]) == nil)
        clock.advance(1000)
        #expect(throttle.wait(for: keys) == nil)
        throttle.failed(keys)
        #expect(throttle.wait(for: keys) == 2)
        for _ in 0..<30 { throttle.failed(keys) }
        #expect(throttle.wait(for: keys) == Int(SignInThrottle.maximumDelay / 1000), "never more than the maximum")
    }

    @Test func successClearsTheNameAndOldFailuresAgeOut() {
        let clock = Clock()
        let throttle = SignInThrottle { clock.now.load(ordering: .relaxed) }
        for _ in 0..<5 { throttle.failed(["name:Hoa"]) }
        #expect(throttle.wait(for: ["name:Hoa"]) != nil)
        throttle.succeeded("name:Hoa")
        #expect(throttle.wait(for: ["name:Hoa"]) == nil)
        for _ in 0..<4 { throttle.failed(["name:Tuấn"]) }
        clock.advance(SignInThrottle.window)
        throttle.failed(["name:Tuấn"])
        #expect(throttle.wait(for: ["name:Tuấn"]) == nil, "failures older than the window are forgotten")
    }

    @Test func aFloodOfMadeUpNamesDoesNotGrowTheTableWithoutBound() {
        let clock = Clock()
        let throttle = SignInThrottle { clock.now.load(ordering: .relaxed) }
        let long = String(repeating: "ư", count: 32_000)
        for index in 0..<(SignInThrottle.maximumKeys * 2 + 7) {
            throttle.failed(["name:\(index)"])
            clock.advance(1)
        }
        #expect(throttle.count <= SignInThrottle.maximumKeys)
        #expect(throttle.wait(for: ["name:\(SignInThrottle.maximumKeys * 2 + 6)"]) == nil, "one failure costs nothing")
        // A 64 KiB name is counted by its first characters: the same account however long the rest.
        for _ in 0..<SignInThrottle.freeFailures { throttle.failed(["name:" + long]) }
        #expect(throttle.wait(for: ["name:" + long.prefix(300)]) == 1)
    }
}

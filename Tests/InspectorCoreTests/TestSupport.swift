import Foundation
import InspectorCore
import InspectorPlans
import Testing

/// The built-in plan, read once for the whole test target.
let builtInPlan: Plan = {
    do { return try BuiltInPlans.current() } catch { fatalError("the built-in plan does not load: \(error)") }
}()

/// The units of the built-in plan.
var planUnits: [Plan.Unit] { builtInPlan.units }

/// The Unicode scalars of a string: Swift's `==` on `String` ignores normalization, this does not.
func scalars(_ text: String) -> [UInt32] { text.unicodeScalars.map(\.value) }

/// Runs `body` and returns the `CoreError` it throws, recording an issue when it does not throw one.
func coreError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> CoreError? {
    do {
        try body()
        Issue.record("expected a CoreError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as CoreError {
        return error
    } catch {
        Issue.record("expected a CoreError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A timestamp, shorter.
func ts(_ millis: Int64, _ counter: Int64 = 0, _ device: String) -> HLCTimestamp {
    HLCTimestamp(millis: millis, counter: counter, device: device)
}

/// A small deterministic random number generator (SplitMix64), for tests that derive a whole
/// scenario from one seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

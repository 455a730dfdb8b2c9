import Synchronization

/// A clock, ms, that a test moves by hand (inject it instead of sleeping).
final class MovableClock: Sendable {
    private let value: Atomic<Int64>

    init(_ millis: Int64) { value = Atomic(millis) }

    var millis: Int64 { value.load(ordering: .relaxed) }

    func advance(_ millis: Int64) { value.add(millis, ordering: .relaxed) }
}

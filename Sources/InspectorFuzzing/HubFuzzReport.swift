/// What a run of the hub session fuzzer (``HubSessionFuzzer``) did: how much it drove, what the hub
/// refused, and every input that broke a rule.
public struct HubFuzzReport: Sendable {
    /// Sessions run: one fresh hub each.
    public var sessions = 0
    /// Steps run over all sessions.
    public var steps = 0
    /// Operations sent to the hub, in pushes and bundles (before decoding).
    public var ops = 0
    /// Push lines built (mutated or not).
    public var pushes = 0
    /// Pushes the hub answered `pushed`.
    public var pushesAccepted = 0
    /// Operations the accepted pushes and bundles newly stored.
    public var opsApplied = 0
    /// Duplicates among them.
    public var opsDuplicate = 0
    /// Bundle files built.
    public var bundles = 0
    /// Bundles the hub imported.
    public var bundlesImported = 0
    /// Pulls served, and the operations they carried.
    public var pulls = 0
    public var opsPulled = 0
    /// Handshakes tried; those that authenticated.
    public var handshakes = 0
    public var handshakesAccepted = 0
    /// Supervisor decisions (`hub resolve`) recorded, the clock probes included.
    public var resolves = 0
    /// Exports made (each twice, to compare).
    public var exports = 0
    /// Refusals by code: the line codec's and the hub's, for pushes, bundles and resolves.
    public var refusals: [String: Int] = [:]
    /// Inputs that broke a rule; a session stops at its first.
    public var failures: [FuzzFailure] = []

    public init() {}

    /// Adds another report's counts and failures.
    public mutating func add(_ other: HubFuzzReport) {
        sessions += other.sessions
        steps += other.steps
        ops += other.ops
        pushes += other.pushes
        pushesAccepted += other.pushesAccepted
        opsApplied += other.opsApplied
        opsDuplicate += other.opsDuplicate
        bundles += other.bundles
        bundlesImported += other.bundlesImported
        pulls += other.pulls
        opsPulled += other.opsPulled
        handshakes += other.handshakes
        handshakesAccepted += other.handshakesAccepted
        resolves += other.resolves
        exports += other.exports
        for (code, count) in other.refusals { refusals[code, default: 0] += count }
        failures += other.failures
    }

    /// Counts one refusal.
    mutating func refused(_ code: String) {
        refusals[code, default: 0] += 1
    }

    /// One line: the counts, the refusals by code, the failures.
    public var summary: String {
        let codes = refusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(sessions) sessions, \(steps) steps, \(ops) ops sent; \(pushes) pushes (\(pushesAccepted) accepted), "
            + "\(bundles) bundles (\(bundlesImported) imported): \(opsApplied) ops stored, \(opsDuplicate) duplicates; "
            + "\(pulls) pulls (\(opsPulled) ops), \(handshakes) handshakes (\(handshakesAccepted) accepted), "
            + "\(resolves) resolves, \(exports) exports; refused: \(codes.isEmpty ? "none" : codes); \(failures.count) failures"
    }
}

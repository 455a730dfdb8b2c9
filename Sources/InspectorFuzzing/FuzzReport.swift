import Foundation

/// One input that broke a rule.
public struct FuzzFailure: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var index: Int
    public var target: String
    public var problem: String
    public var input: [UInt8]

    public var description: String {
        "case \(index) of seed \(seed) (\(target)): \(problem); input (\(input.count) bytes, base64): \(Data(input.prefix(4096)).base64EncodedString())"
    }
}

/// What a run did.
public struct FuzzReport: Sendable {
    public var cases = 0
    public var lineCases = 0
    public var bundleCases = 0
    /// Inputs that decoded to a message or a bundle (each then re-encoded and decoded again).
    public var decoded = 0
    /// Refusals by error code.
    public var refusals: [String: Int] = [:]
    public var failures: [FuzzFailure] = []
    /// The slowest cases: (index, duration, input size).
    public var slowest: [(index: Int, duration: Duration, bytes: Int)] = []

    public init() {}

    public mutating func add(_ other: FuzzReport) {
        cases += other.cases
        lineCases += other.lineCases
        bundleCases += other.bundleCases
        decoded += other.decoded
        for (code, count) in other.refusals { refusals[code, default: 0] += count }
        failures += other.failures
        slowest = Array((slowest + other.slowest).sorted { $0.duration > $1.duration }.prefix(5))
    }

    public var summary: String {
        let codes = refusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(cases) cases (\(lineCases) lines, \(bundleCases) bundles): \(decoded) decoded and round-tripped; refused: \(codes); \(failures.count) failures"
    }
}

/// The merge rules of InspectorSync as an in-memory replica: the reference the SQLite store is tested against.
///
/// - A `set` is last-writer-wins per (unit, item, field): the value shown is that of the operation
///   with the greatest ``HLCTimestamp``, whatever order operations arrive in.
/// - Findings are append-only: the findings are the union of every `finding_add`; a finding is
///   retracted by the `finding_retract` with the greatest timestamp that names it. Attachments are
///   append-only too: a finding lists every `attachment_add` that names it.
/// - An operation is identified by (device, sequence): receiving it again changes nothing, and a
///   different operation under a used identity is refused.
///
/// Because the state is a function of the set of operations, merging is idempotent, commutative
/// and associative.
public struct MergeState: Sendable {
    /// What ``apply(_:)`` did with an operation.
    public enum Outcome: Equatable, Sendable {
        case applied
        case duplicate
        /// A different operation already holds this (device, sequence).
        case conflictingIdentity
    }

    private struct Key: Hashable { var device: String; var sequence: Int64 }
    private var operations: [Key: Op] = [:]

    public init() {}

    /// The number of distinct operations held.
    public var count: Int { operations.count }

    /// Every operation held, in timestamp order.
    public var allOperations: [Op] { operations.values.sorted { $0.timestamp < $1.timestamp } }

    /// Adds one operation.
    @discardableResult
    public mutating func apply(_ operation: Op) -> Outcome {
        let key = Key(device: operation.device, sequence: operation.sequence)
        if let existing = operations[key] {
            return existing == operation ? .duplicate : .conflictingIdentity
        }
        operations[key] = operation
        return .applied
    }

    /// The dataset these operations produce.
    public func dataset(plan: Plan, units: [Plan.Unit]) -> Dataset {
        var fieldVersions: [[String]: [Op]] = [:]
        var adds: [Op] = []
        var retractions: [String: Op] = [:]
        var attachments: [String: [Dataset.Attachment]] = [:]
        for op in operations.values {
            switch op.kind {
            case .set:
                fieldVersions[[op.unit, op.item!, op.field!], default: []].append(op)
            case .findingAdd:
                adds.append(op)
            case .findingRetract:
                if let current = retractions[op.finding!], current.timestamp > op.timestamp { continue }
                retractions[op.finding!] = op
            case .attachmentAdd:
                if let descriptor = op.attachment {
                    attachments[op.finding!, default: []].append(
                        Dataset.Attachment(descriptor: descriptor, device: op.device, sequence: op.sequence, timestamp: op.timestamp))
                }
            }
        }
        func version(_ op: Op) -> Dataset.Version {
            Dataset.Version(value: op.value, device: op.device, sequence: op.sequence, timestamp: op.timestamp)
        }
        var values: [Dataset.Value] = []
        var conflicts: [Dataset.Conflict] = []
        for (key, ops) in fieldVersions {
            let winner = ops.max { $0.timestamp < $1.timestamp }!
            values.append(Dataset.Value(unit: key[0], item: key[1], field: key[2], current: version(winner)))
            var latestByDevice: [String: Op] = [:]
            for op in ops where op.device != winner.device {
                if let current = latestByDevice[op.device], current.timestamp > op.timestamp { continue }
                latestByDevice[op.device] = op
            }
            if !latestByDevice.isEmpty {
                conflicts.append(Dataset.Conflict(unit: key[0], item: key[1], field: key[2], winner: version(winner),
                                                  losers: latestByDevice.values.map(version)))
            }
        }
        let findings = adds.map { op in
            Dataset.Finding(id: op.finding!, unit: op.unit, item: op.item, kind: op.findingKind!, text: op.value,
                            device: op.device, timestamp: op.timestamp, retraction: retractions[op.finding!].map(version),
                            attachments: attachments[op.finding!] ?? [])
        }
        return Dataset(plan: plan, units: units, values: values, findings: findings, conflicts: conflicts)
    }
}

import InspectorCore

/// One message of the sync protocol: a line `VERB {json}`.
///
/// See `Protocol/PROTOCOL.md` for the normative description of every verb and key.
public enum Message: Sendable, Equatable {
    /// Device → hub, first line: who is speaking, with what token, at what clock.
    case hello(Hello)
    /// Hub → device, answer to `hello`: the hub's clock, what it holds of the device, and the device's scope.
    case welcome(Welcome)
    /// Device → hub: a batch of the device's own operations, and sequence numbers it sets aside.
    case push(Push)
    /// Hub → device: the batch is durable; the highest contiguous sequence number held.
    case pushed(Pushed)
    /// Device → hub: send operations after a cursor.
    case pull(Pull)
    /// Hub → device: a batch of operations and the cursor after it.
    case ops(OpsBatch)
    /// Either side: the conversation ends.
    case bye
    /// Either side: an error with a stable code.
    case error(ProtocolError)

    public struct Hello: Sendable, Equatable {
        public var version: Int
        public var device: String
        public var token: String
        /// The device's wall clock when it sent the line, ms since the epoch.
        public var time: Int64
        /// The digest of the plan the device holds, if any.
        public var planDigest: String?
        /// Stream compressions the device can use, by preference (`deflate`); empty for none.
        public var compress: [String]
        public init(version: Int = ProtocolLimits.protocolVersion, device: String, token: String, time: Int64, planDigest: String?,
                    compress: [String] = []) {
            self.version = version
            self.device = device
            self.token = token
            self.time = time
            self.planDigest = planDigest
            self.compress = compress
        }
    }

    public struct Welcome: Sendable, Equatable {
        public var version: Int
        /// The hub's wall clock when it sent the line, ms since the epoch.
        public var time: Int64
        /// The highest sequence number of this device such that the hub holds it and every one before it.
        public var confirmed: Int64
        /// The units the device may write and read (its assigned units and their sub-units), sorted.
        public var scope: [String]
        /// Every unit in scope, with names and parents.
        public var units: [Plan.Unit]
        /// The digest of the hub's plan.
        public var planDigest: String
        /// The hub's plan, sent only when the device's digest differs.
        public var plan: Plan?
        /// The stream compression chosen from the device's list; every later byte of both directions uses it.
        public var compress: String?
        public init(version: Int = ProtocolLimits.protocolVersion, time: Int64, confirmed: Int64, scope: [String],
                    units: [Plan.Unit], planDigest: String, plan: Plan?, compress: String? = nil) {
            self.compress = compress
            self.version = version
            self.time = time
            self.confirmed = confirmed
            self.scope = scope
            self.units = units
            self.planDigest = planDigest
            self.plan = plan
        }
    }

    public struct Push: Sendable, Equatable {
        public var ops: [Op]
        /// Sequence numbers the device has set aside after the hub refused them; the hub counts them as settled.
        public var withdrawn: [Int64]
        public init(ops: [Op], withdrawn: [Int64] = []) {
            self.ops = ops
            self.withdrawn = withdrawn
        }
    }

    public struct Pushed: Sendable, Equatable {
        public var confirmed: Int64
        public var applied: Int
        public var duplicates: Int
        public init(confirmed: Int64, applied: Int, duplicates: Int) {
            self.confirmed = confirmed
            self.applied = applied
            self.duplicates = duplicates
        }
    }

    public struct Pull: Sendable, Equatable {
        public var cursor: Int64
        public var limit: Int?
        public init(cursor: Int64, limit: Int? = nil) {
            self.cursor = cursor
            self.limit = limit
        }
    }

    public struct OpsBatch: Sendable, Equatable {
        public var ops: [Op]
        public var cursor: Int64
        public var more: Bool
        public init(ops: [Op], cursor: Int64, more: Bool) {
            self.ops = ops
            self.cursor = cursor
            self.more = more
        }
    }

    /// The verb that starts this message's line.
    public var verb: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .push: "push"
        case .pushed: "pushed"
        case .pull: "pull"
        case .ops: "ops"
        case .bye: "bye"
        case .error: "error"
        }
    }
}

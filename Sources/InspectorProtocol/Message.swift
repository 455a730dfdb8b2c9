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
    /// Device → hub: a file of an attachment the device holds (PROTOCOL.md 4.9, 20).
    case offer(Offer)
    /// Hub → device: how many bytes of an offered file the hub holds durably (4.10).
    case want(FileState)
    /// Device → hub: bytes of a file from an offset (4.11).
    case chunk(Chunk)
    /// Hub → device: a chunk is durable; the bytes of the file now held (4.12).
    case stored(FileState)
    /// Device → hub: send the file from this offset; the hub answers with `chunk` lines to its end (4.13).
    case fetch(Fetch)
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
        /// The device's pull cursor, sent to learn how many operations the pull will bring (`to_pull`).
        public var cursor: Int64?
        /// Whether this session's pulls leave out superseded `set` ops (PROTOCOL.md 11.6): a new device's first sync.
        public var compact: Bool
        public init(version: Int = ProtocolLimits.protocolVersion, device: String, token: String, time: Int64, planDigest: String?,
                    compress: [String] = [], cursor: Int64? = nil, compact: Bool = false) {
            self.cursor = cursor
            self.compact = compact
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
        /// How many operations a pull from the hello's `cursor` would bring now; nil when the hello had no cursor.
        public var toPull: Int64?
        /// The key fingerprints of the devices (and of the hub, under `hub`) that have enrolled a key, by
        /// device id, so the device can check their signed chains in bundles (PROTOCOL.md 19.4).
        public var keys: [String: String]
        public init(version: Int = ProtocolLimits.protocolVersion, time: Int64, confirmed: Int64, scope: [String],
                    units: [Plan.Unit], planDigest: String, plan: Plan?, compress: String? = nil, toPull: Int64? = nil,
                    keys: [String: String] = [:]) {
            self.toPull = toPull
            self.keys = keys
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
        /// The device's signed chain head over the pushed ops (PROTOCOL.md 19.3); required from a
        /// device that has enrolled a key, whenever `ops` is not empty.
        public var head: ChainSegment?
        public init(ops: [Op], withdrawn: [Int64] = [], head: ChainSegment? = nil) {
            self.ops = ops
            self.withdrawn = withdrawn
            self.head = head
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
        /// The device's report of the pulled ops it holds back (PROTOCOL.md 11.5), when it sends one.
        public var heldBack: HeldBackReport?
        public init(cursor: Int64, limit: Int? = nil, heldBack: HeldBackReport? = nil) {
            self.cursor = cursor
            self.limit = limit
            self.heldBack = heldBack
        }
    }

    /// Pulled ops a device could not store and holds back, as it reports them to the hub.
    public struct HeldBackReport: Sendable, Equatable {
        /// One held-back op: whose, which, and why.
        public struct Entry: Sendable, Hashable {
            public var device: String
            public var sequence: Int64
            public var code: String
            public var message: String
            public init(device: String, sequence: Int64, code: String, message: String) {
                self.device = device
                self.sequence = sequence
                self.code = code
                self.message = message
            }
        }
        /// How many ops the device holds back in all.
        public var count: Int
        /// At most ``maximumEntries`` of them.
        public var entries: [Entry]
        /// The most entries a report lists.
        public static let maximumEntries = 100
        public init(count: Int, entries: [Entry]) {
            self.count = count
            self.entries = entries
        }
    }

    public struct OpsBatch: Sendable, Equatable {
        public var ops: [Op]
        public var cursor: Int64
        public var more: Bool
        /// Elements of the batch that could not be read as ops, with why; a device holds them back.
        public var unreadable: [UnreadableOp]
        public init(ops: [Op], cursor: Int64, more: Bool, unreadable: [UnreadableOp] = []) {
            self.ops = ops
            self.cursor = cursor
            self.more = more
            self.unreadable = unreadable
        }
    }

    /// An element of a pulled batch that is not a valid op for this version.
    public struct UnreadableOp: Sendable, Equatable {
        /// Its JSON, re-serialized.
        public var json: String
        /// Its `d` and `s`, when they could be read.
        public var device: String?
        public var sequence: Int64?
        public var error: ProtocolError
    }

    /// A file the device offers: its SHA-256 and size, as an `attachment_add` op named them.
    public struct Offer: Sendable, Equatable {
        public var hash: String
        public var size: Int64
        public init(hash: String, size: Int64) {
            self.hash = hash
            self.size = size
        }
    }

    /// How much of a file the hub holds durably: `have` bytes from its start (the whole, verified
    /// file when `have` is its size).
    public struct FileState: Sendable, Equatable {
        public var hash: String
        public var have: Int64
        public init(hash: String, have: Int64) {
            self.hash = hash
            self.have = have
        }
    }

    /// A request for a file's bytes from `offset` to its end.
    public struct Fetch: Sendable, Equatable {
        public var hash: String
        public var offset: Int64
        /// The most bytes the device wants per chunk (`n`, 1,024 … 262,144; the hub's own size,
        /// 262,144, when nil): smaller chunks for a slow link (PROTOCOL.md 20.4).
        public var chunkBytes: Int?
        public init(hash: String, offset: Int64, chunkBytes: Int? = nil) {
            self.hash = hash
            self.offset = offset
            self.chunkBytes = chunkBytes
        }

        /// The chunk size the hub uses for this request: `n` within its bounds.
        public var servedChunkBytes: Int {
            min(max(chunkBytes ?? Chunk.maximumBytes, 1024), Chunk.maximumBytes)
        }
    }

    /// Bytes of a file from `offset`: 1 to ``maximumBytes``, base64url on the wire.
    public struct Chunk: Sendable, Equatable {
        public var hash: String
        public var offset: Int64
        public var data: [UInt8]
        /// The most bytes one chunk carries: 256 KiB.
        public static let maximumBytes = 256 << 10
        /// The most chunks a device sends before the first `stored` comes back.
        public static let window = 8
        public init(hash: String, offset: Int64, data: [UInt8]) {
            self.hash = hash
            self.offset = offset
            self.data = data
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
        case .offer: "offer"
        case .want: "want"
        case .chunk: "chunk"
        case .stored: "stored"
        case .fetch: "fetch"
        case .bye: "bye"
        case .error: "error"
        }
    }
}

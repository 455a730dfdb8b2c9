import Foundation
import GRDB
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore

/// One fuzzed session: a fresh hub on a real SQLite file, two or three enrolled devices, and the
/// steps its input describes — handshakes, pushes, pulls, bundle imports, supervisor decisions,
/// exports, clock moves, new sub-units, revocations, schedules — each followed by the checks of the
/// rules it must keep (`HubSession+Checks.swift`).
///
/// The session plays the part of `HubConnection` without the network: it writes each line as a
/// device would, decodes it with the protocol's `LineCodec`, applies the connection's own limits
/// (line length, batch count, the pull limit's clamp), then calls the `HubStore` methods the
/// connection calls. A session stops at the first broken rule.
final class HubSession {
    /// A broken rule, with what was seen.
    struct Broken: Error, CustomStringConvertible {
        var problem: String
        init(_ problem: String) { self.problem = problem }
        var description: String { problem }
    }

    /// An enrolled device as the session knows it.
    struct Member {
        var id: String
        var token: String
        var units: [String]
        var isRevoked = false
        /// The key this member presents over TLS (a fingerprint stands for it; the hub sees no more).
        var key: KeyFingerprint
        /// The key the hub enrolled for it, as the rules of PROTOCOL.md 9.8 predict.
        var enrolledKey: KeyFingerprint?
        /// Set by a successful handshake: the device as the hub returned it, and the clock offset measured then.
        var connection: (device: HubStore.Device, clockOffset: Int64)?
        /// Its pull cursor.
        var cursor: Int64 = 0
        /// The sequence number of its next new op.
        var nextSequence: Int64 = 1
        /// The latest ops the hub acknowledged for it (at most ``maximumRemembered``).
        var acknowledged: [Op] = []
    }

    /// The most steps a session runs, whatever the input's length.
    static let maximumSteps = 40
    /// The most acknowledged ops a member remembers for replays.
    static let maximumRemembered = 64
    /// The device ids a session enrolls, in order.
    static let deviceIDs = ["dev-a", "dev-b", "dev-c"]
    /// The units scopes are drawn from (PROTOCOL.md's vectors use the first three).
    static let mainUnits = ["muong-lay", "muong-ang", "so-y-te"]
    /// Where the hub's clock starts: mostly the vectors' 2024-06-20, sometimes at the epoch or two days before 10000-01-01.
    static let startTimes: [Int64] = [1_718_845_320_000, 1_718_845_320_000, 1_718_845_320_000, 1_718_845_320_000,
                                      0, 1, 1 << 41, EdgeValues.lastValidMillis - 2 * 86_400_000]
    /// The hub's clock never passes this, so that its clock plus the tolerance is a valid time.
    static let clockLimit = EdgeValues.lastValidMillis - EdgeValues.tolerance - 86_400_000
    /// The field the clock probe decides on, and its values.
    static let probe = (unit: "muong-lay", item: "II.4", field: "rating", values: ["tot", "kha", "trung_binh", "yeu"])

    let plan: Plan
    let maker: HubOpMaker
    let corpus: FuzzCorpus
    let hub: HubStore
    let clock: HubFuzzClock
    var reader: FuzzInputReader
    var members: [Member] = []
    var report = HubFuzzReport()
    /// The chains the session's devices sign their pushes and bundles with.
    var chains = FuzzChainBook()
    /// The last log position the checks have looked at.
    var logPosition: Int64 = 0
    /// The findings the hub holds, by id: their unit and item.
    var findings: [String: (unit: String, item: String?)] = [:]
    /// Sub-units added so far.
    var subUnits = 0
    /// Probes made so far (they cycle through the rating's values).
    var probes = 0
    /// The step running, for failure messages.
    var stepNumber = 0
    var stepName = "setup"

    /// Creates the hub file at `path`; the input's first bytes choose where its clock starts.
    init(input: [UInt8], path: String, plan: Plan, maker: HubOpMaker, corpus: FuzzCorpus) throws {
        var reader = FuzzInputReader(input)
        self.clock = HubFuzzClock(reader.pick(Self.startTimes))
        self.reader = reader
        self.plan = plan
        self.maker = maker
        self.corpus = corpus
        self.hub = try HubStore.create(at: path, plan: plan, clock: clock.read)
    }

    /// Runs the session; returns what it did and the first broken rule, if any.
    func run() async -> (HubFuzzReport, String?) {
        report.sessions = 1
        var failure: String?
        do {
            try enroll()
            while !reader.isAtEnd && stepNumber < Self.maximumSteps {
                stepNumber += 1
                report.steps += 1
                try await runStep()
            }
            stepNumber += 1
            stepName = "end of session"
            try await finish()
        } catch let broken as Broken {
            failure = "step \(stepNumber) (\(stepName)): \(broken.problem)"
        } catch {
            failure = "step \(stepNumber) (\(stepName)): unexpected error \(String(describing: error).excerpt(400))"
        }
        close()
        return (report, failure)
    }

    /// Closes the hub's database so its files can go.
    func close() {
        try? (hub.replica.writer as? DatabasePool)?.close()
    }

    /// Every unit the hub knows, sorted.
    var allUnits: [String] { hub.replica.units.map(\.id).sorted() }

    // MARK: - Enrolment

    /// An enrollment validity that ends after any hub time (the expiry saturates at `Int64.max`).
    static let unlimited = Duration.seconds(Int64.max)

    /// Enrolls 2–3 devices, each for 1–3 of the main units, now and then one more unit of the plan.
    private func enroll() throws {
        let count = reader.int(2...3)
        let others = plan.units.map(\.id).filter { !Self.mainUnits.contains($0) }
        for id in Self.deviceIDs.prefix(count) {
            let mask = reader.int(1...7)
            var units = Self.mainUnits.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
            if reader.chance(10) && !others.isEmpty { units.append(reader.pick(others)) }
            let name: String? = reader.chance(25) ? reader.pick(EdgeValues.names) : nil
            let token: String
            do {
                // Without an expiry: the fuzzed hub clock may run anywhere, and expiry has its own tests.
                token = try hub.addDevice(id, units: units, name: name, validity: Self.unlimited)
            } catch {
                // A name the hub refuses: the device must not be enrolled by the refused call.
                report.refused(Self.code(of: error))
                guard try hub.devices().allSatisfy({ $0.id != id }) else {
                    throw Broken("enrolling \(id) was refused (\(Self.code(of: error))) yet the device is enrolled")
                }
                token = try hub.addDevice(id, units: units, name: nil, validity: Self.unlimited)
            }
            members.append(Member(id: id, token: token, units: units, key: KeyFingerprint(subjectPublicKeyInfo: FuzzChainBook.key(for: id).publicKey.derRepresentation)))
        }
    }

    // MARK: - Steps

    private func runStep() async throws {
        switch reader.int(0...20) {
        case 0..<7: stepName = "push"; try await pushStep(mutated: false)
        case 7: stepName = "push, mutated line"; try await pushStep(mutated: true)
        case 8, 9: stepName = "pull"; try await pullStep()
        case 10, 11: stepName = "bundle import"; try await bundleStep()
        case 12: stepName = "resolve"; try await resolveStep()
        case 13: stepName = "export"; try exportStep()
        case 14: stepName = "handshake"; try await handshakeStep()
        case 15: stepName = "clock"; clockStep()
        case 16: stepName = "sub-unit"; try subUnitStep()
        case 17: stepName = "revoke"; try await revokeStep()
        case 18: stepName = "schedule"; try scheduleStep()
        case 19: stepName = "file"; try await fileStep()
        default: stepName = "replayed push"; try await replayStep()
        }
    }

    /// An `offer` and chunks of a file (PROTOCOL.md 20), with a hash the log names or a stranger's,
    /// a size and offsets honest or at an edge: whatever the hub answers, its durable length stays
    /// within the file and never goes back, and a file it holds is its hash.
    private func fileStep() async throws {
        guard let index = try await connectedMember() else { return }
        let named = try await hub.replica.attachmentDescriptors().values.sorted { $0.hash < $1.hash }
        let known = named.isEmpty || reader.chance(20) ? nil : reader.pick(named)
        let hash = known?.hash ?? reader.pick([String(repeating: "5e", count: 32), String(repeating: "00", count: 32)])
        let size = reader.chance(80) ? known?.size ?? 10 : reader.pick([0, 1, -1, Int64.max, Int64.min, AttachmentDescriptor.maximumSize + 1])
        let offered: Message.FileState
        do {
            offered = try await hub.offer(Message.Offer(hash: hash, size: size), from: members[index].id)
        } catch {
            report.refused(Self.code(of: error))
            return
        }
        guard offered.have >= 0, offered.have <= size else { throw Broken("an offer of \(size) bytes was answered with have \(offered.have)") }
        var have = offered.have
        for _ in 0..<reader.int(0...3) {
            let offset = reader.chance(70) ? have : reader.pick([0, have &+ 1, -1, Int64.max, size, have &- 1])
            let data = (0..<reader.pick([1, 7, 1000])).map { _ in UInt8(truncatingIfNeeded: reader.int(0...255)) }
            do {
                let stored = try await hub.store(Message.Chunk(hash: hash, offset: offset, data: data), size: size)
                guard stored.have >= have, stored.have <= size else {
                    throw Broken("a chunk at \(offset) of a \(size)-byte file took have from \(have) to \(stored.have)")
                }
                have = stored.have
            } catch let error as Broken {
                throw error
            } catch {
                report.refused(Self.code(of: error))
                have = hub.attachmentFiles.durableLength(of: hash, size: size)
            }
        }
        if hub.attachmentFiles.holds(hash), try AttachmentFiles.hash(ofFileAt: hub.attachmentFiles.path(of: hash)) != hash {
            throw Broken("the hub holds a file \(hash.prefix(16))… that is not its hash")
        }
        // A fetch of it, by a device of any scope, at an edge offset: served only within the file.
        do {
            let own = members[index].connection.map { hub.scope(of: $0.device) } ?? []
            let scope = reader.chance(70) ? own : Set(reader.pick([["so-y-te"], [], EdgeValues.strangerUnits]))
            let fetchable = try await hub.fetchable(hash, scope: scope)
            let offset = reader.pick([0, fetchable - 1, fetchable, -1, Int64.max, Int64.min])
            let count = reader.pick([1, 1024, Message.Chunk.maximumBytes, 0, -1])
            guard offset >= 0, offset < fetchable, count >= 1 else { return }
            let bytes = try await hub.readFile(hash, at: offset, count: count)
            guard bytes.count == min(count, Int(fetchable - offset)) else {
                throw Broken("reading \(count) bytes at \(offset) of a \(fetchable)-byte file gave \(bytes.count)")
            }
        } catch let error as Broken {
            throw error
        } catch {
            report.refused(Self.code(of: error))
        }
    }

    /// A member with a live session, after a handshake if it has none; nil when it is revoked.
    private func connectedMember() async throws -> Int? {
        let index = reader.int(0...(members.count - 1))
        if members[index].isRevoked {
            // The connection is refused at the handshake, whatever it sends next.
            if try await hub.authenticate(device: members[index].id, token: members[index].token, key: nil) != nil {
                throw Broken("revoked device \(members[index].id) authenticated with its old token")
            }
            report.refused("unauthorized")
            return nil
        }
        if members[index].connection == nil {
            try await handshake(index, token: members[index].token, time: clock.now &+ reader.pick([0, 0, 0, 5, -5, 300_001]))
        }
        return members[index].connection == nil ? nil : index
    }

    /// A `hello` line through the codec, then the hub's checks; the session is recorded when it passes.
    func handshake(_ index: Int, token: String, time: Int64) async throws {
        report.handshakes += 1
        let member = members[index]
        let hello = Message.Hello(device: member.id, token: token, time: time, planDigest: reader.chance(50) ? plan.digest : nil,
                                  compress: reader.chance(20) ? ["deflate"] : [])
        let line = Self.line(.hello(hello))
        guard line.count <= ProtocolLimits.v1.maximumUnauthenticatedLineBytes else {
            report.refused("line_too_long")
            return
        }
        let decoded: Message.Hello
        do {
            guard case .hello(let message) = try LineCodec.decode(line) else { throw Broken("a hello line decoded as another message") }
            decoded = message
        } catch let error as ProtocolError {
            // The codec may refuse a clock reading that is no time at all; any other hello it must read.
            guard !HLCTimestamp.validMillis.contains(time) else { throw Broken("a well-formed hello was refused by the codec: \(error)") }
            report.refused(error.code.rawValue)
            try checkMessage(of: error)
            return
        }
        // The key presented over TLS: the member's own, another replica's (a copied code), or none
        // (a lab hub's plain TCP).
        let key: KeyFingerprint? = switch reader.int(0...9) {
        case 0: nil
        case 1: KeyFingerprint(subjectPublicKeyInfo: Array("fuzz-key-copy-\(member.id)".utf8))
        default: member.key
        }
        // PROTOCOL.md 9.8, as a model: what the hub must answer.
        func secret(_ text: String) -> Substring { text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)[0] }
        let secretMatches = secret(decoded.token) == secret(member.token)
        enum Expected: Equatable { case admitted, refused, thrown(ErrorCode) }
        let expected: Expected
        if member.isRevoked {
            expected = .refused
        } else if let enrolled = member.enrolledKey {
            expected = key == enrolled ? .admitted : secretMatches ? .thrown(.enrollmentUsed) : .refused
        } else {
            expected = secretMatches ? .admitted : .refused
        }
        let device: HubStore.Device?
        do {
            device = try await hub.authenticate(device: decoded.device, token: decoded.token, key: key)
        } catch let error as ProtocolError {
            guard expected == .thrown(error.code) else {
                throw Broken("\(member.id) was refused with \(error.code), expected \(expected) (key \(key.map { "\($0)" } ?? "none"))")
            }
            try checkMessage(of: error)
            report.refused(error.code.rawValue)
            return
        }
        if expected == .admitted && device == nil { throw Broken("\(member.id) did not authenticate with its own token and key") }
        if expected != .admitted && device != nil { throw Broken("\(member.id) authenticated with a wrong token or key, or while revoked (expected \(expected))") }
        guard let device else {
            report.refused("unauthorized")
            return
        }
        if members[index].enrolledKey == nil, let key {
            members[index].enrolledKey = key
            guard device.key == key else { throw Broken("\(member.id)'s first key was not enrolled") }
        }
        guard device.id == member.id else { throw Broken("authenticating \(member.id) returned device \(device.id)") }
        let now = clock.now
        // As HubConnection.handshake takes it (it was `hello.time - now`, which trapped on a hello
        // stamped near Int64.min or Int64.max: found by this fuzzer).
        let offset = HybridLogicalClock.offset(from: now, to: decoded.time)
        try await hub.recordHandshake(device: device.id, at: now, clockOffset: offset)
        members[index].connection = (device, offset)
        report.handshakesAccepted += 1
    }

    /// A handshake with a chosen token and clock: right, wrong, another device's, or empty; a time
    /// near the hub's or at an edge.
    private func handshakeStep() async throws {
        let index = reader.int(0...(members.count - 1))
        let member = members[index]
        let token: String
        switch reader.int(0...9) {
        case 0: token = String(member.token.dropLast()) + (member.token.hasSuffix("0") ? "1" : "0")
        case 1: token = members[(index + 1) % members.count].token
        case 2: token = reader.pick(["", String(repeating: "0", count: 64), member.token.uppercased(), member.token + " "])
        default: token = member.token
        }
        let time = reader.chance(20) ? reader.pick(EdgeValues.absoluteMillis) : clock.now &+ reader.pick(EdgeValues.helloSkews)
        try await handshake(index, token: token, time: time)
    }

    /// A push of 0–24 ops (mostly 1–4), built as a device would, through the codec.
    private func pushStep(mutated: Bool) async throws {
        guard let index = try await connectedMember() else { return }
        var ops: [Op] = []
        let count = reader.pick([1, 1, 1, 1, 1, 2, 2, 3, 4, 8, 0, 24])
        let context = opContext(author: members[index].id)
        for offset in 0..<count {
            var opContext = context
            opContext.sequence = members[index].nextSequence &+ Int64(offset)
            opContext.earlier = ops
            ops.append(maker.make(&reader, opContext))
        }
        if !ops.isEmpty && reader.chance(8) {
            // The same (device, sequence) twice in one batch: the same op, or a different one.
            var copy = reader.pick(ops)
            if reader.chance(50) { copy.value = reader.pick(EdgeValues.plainTexts) }
            ops.insert(copy, at: reader.int(0...ops.count))
        }
        var withdrawn: [Int64] = []
        if reader.chance(10) {
            withdrawn = [reader.chance(50) ? reader.pick(EdgeValues.sequences) : members[index].nextSequence &+ Int64(count)]
        }
        var line = Self.line(.push(Message.Push(ops: ops, withdrawn: withdrawn, head: signedHead(over: ops, by: members[index].id))))
        if mutated {
            line = SessionMutations.line(line, seed: reader.uint64(), rounds: reader.pick([1, 1, 2]), corpus: corpus)
        }
        report.pushes += 1
        report.ops += ops.count
        try await deliverPush(line, from: index)
    }

    /// Pushes again ops the hub acknowledged for a device: the same (duplicates) or changed (conflicts).
    private func replayStep() async throws {
        guard let index = try await connectedMember() else { return }
        let remembered = members[index].acknowledged
        guard !remembered.isEmpty else { return try await pushStep(mutated: false) }
        var ops: [Op] = []
        for _ in 0..<reader.int(1...3) {
            var op = reader.pick(remembered)
            switch reader.int(0...5) {
            case 0: op.value = op.value == "tot" ? "kha" : "tot"
            case 1: op.timestamp.millis = op.timestamp.millis &+ 1
            case 2: op.timestamp.counter = reader.pick(EdgeValues.counters)
            default: break
            }
            ops.append(op)
        }
        report.pushes += 1
        report.ops += ops.count
        try await deliverPush(Self.line(.push(Message.Push(ops: ops, head: signedHead(over: ops, by: members[index].id)))), from: index)
    }

    /// The head an honest device would sign over its pushed ops; now and then none, or one whose
    /// chain does not continue the device's (PROTOCOL.md 19.3).
    private func signedHead(over ops: [Op], by device: String) -> ChainSegment? {
        guard !ops.isEmpty, !reader.chance(4) else { return nil }
        return chains.segment(over: ops, signedWith: FuzzChainBook.key(for: device), corrupt: reader.chance(3))
    }

    /// A pull line through the codec, with the session's cursor or one at an edge, and any limit;
    /// full or compact (a new device's first sync, PROTOCOL.md 11.6).
    private func pullStep() async throws {
        guard let index = try await connectedMember() else { return }
        let cursor = reader.chance(80) ? members[index].cursor : reader.pick([-1, 0, Int64.max, Int64.min, 1, members[index].cursor &+ 1])
        let limit: Int? = reader.chance(60) ? nil : reader.pick([0, 1, 2, 3, -1, 2_000, 2_001, Int.max, Int.min])
        let line = Self.line(.pull(Message.Pull(cursor: cursor, limit: limit)))
        let pull: Message.Pull
        do {
            guard case .pull(let message) = try LineCodec.decode(line) else { throw Broken("a pull line decoded as another message") }
            pull = message
        } catch let error as ProtocolError {
            throw Broken("a well-formed pull was refused by the codec: \(error)")
        }
        // HubConnection's clamps.
        let clamped = min(max(pull.limit ?? ProtocolLimits.v1.maximumBatchCount, 1), ProtocolLimits.v1.maximumBatchCount)
        let batch = try await servePull(member: index, after: max(pull.cursor, 0), limit: clamped, compact: reader.chance(30))
        members[index].cursor = batch.cursor
    }

    /// A bundle of ops by enrolled devices, strangers and the hub, through the bundle codec, then imported.
    private func bundleStep() async throws {
        let authors = members.map(\.id) + ["dev-z", Identifier.hubDevice]
        var ops: [Op] = []
        var next: [String: Int64] = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0.nextSequence) })
        for _ in 0..<reader.pick([1, 1, 2, 3, 5, 8, 0]) {
            if reader.chance(8) {
                // A supervisor's decision relayed back by a device, under a number the hub has used, will use next, or never can.
                let (item, field) = reader.pick(maker.fields)
                let sequence = reader.pick([1, Int64(probes) + 1, try await hub.replica.lastSequence(of: Identifier.hubDevice) &+ 1, Int64.max, Int64.max - 1])
                ops.append(.set(device: Identifier.hubDevice, sequence: sequence,
                                timestamp: HLCTimestamp(millis: clock.now, counter: Int64(reader.int(0...2)), device: Identifier.hubDevice),
                                unit: reader.pick(allUnits), item: item, field: field.id, value: maker.value(of: field, &reader)))
                continue
            }
            let author = reader.chance(85) ? reader.pick(Array(authors.prefix(members.count))) : reader.pick(authors)
            if let member = members.first(where: { $0.id == author }), !member.acknowledged.isEmpty, reader.chance(30) {
                ops.append(reader.pick(member.acknowledged))  // relayed: an op the hub already holds
                continue
            }
            var context = opContext(author: author)
            context.sequence = next[author, default: 1]
            context.earlier = ops
            ops.append(maker.make(&reader, context))
            next[author] = context.sequence &+ 1
        }
        let planID = reader.chance(95) ? plan.id : reader.pick(["kh-1181-2023", "", "KH-1181-2024", plan.id + " "])
        // Each author's head, signed with its key (the hub's own for its ops); now and then one is left out.
        var heads: [ChainSegment] = []
        for author in Set(ops.map(\.device)).sorted() where !reader.chance(3) {
            let key = author == Identifier.hubDevice ? hub.identity.privateKey : FuzzChainBook.key(for: author)
            if let head = chains.segment(over: ops.filter { $0.device == author }, signedWith: key, corrupt: reader.chance(3)) {
                heads.append(head)
            }
        }
        let bundle = BundleFile(plan: planID, device: reader.pick(authors), from: 0, through: Int64(ops.count), ops: ops, heads: heads)
        var bytes = [UInt8](bundle.encoded())
        if reader.chance(15) {
            bytes = SessionMutations.bundle(bytes, seed: reader.uint64(), corpus: corpus)
        }
        report.bundles += 1
        report.ops += ops.count
        let decoded: BundleFile
        do {
            decoded = try BundleFile.decode(Data(bytes))
        } catch {
            report.refused(error.code.rawValue)
            return
        }
        try await importBundle(decoded)
    }

    /// A supervisor's decision on any field, with a canonical value or one at an edge.
    private func resolveStep() async throws {
        let unit = reader.chance(85) ? reader.pick(allUnits) : reader.pick(EdgeValues.strangerUnits)
        let (item, field) = reader.pick(maker.fields)
        let itemID = reader.chance(90) ? item : reader.pick(EdgeValues.strangerItems)
        let fieldID = reader.chance(90) ? field.id : reader.pick(EdgeValues.strangerFields)
        let value = maker.value(of: field, &reader)
        let by = reader.chance(70) ? "Lò Văn Thắng" : reader.pick(EdgeValues.names)
        try resolve(unit: unit, item: itemID, field: fieldID, value: value, by: by)
    }

    /// Moves the hub's clock forward: not at all, 1 ms, a second, the tolerance (± 1 ms), a day, a month.
    private func clockStep() {
        let step: Int64 = reader.pick([0, 1, 999, 1_000, EdgeValues.tolerance, EdgeValues.tolerance + 1, 3_600_000, 86_400_000, 30 * 86_400_000])
        clock.advance(by: step, upTo: Self.clockLimit)
    }

    /// Adds a sub-unit below a unit (now and then below itself or below a unit that does not exist).
    private func subUnitStep() throws {
        let id = "sub-\(subUnits)"
        let parent: String = switch reader.int(0...9) {
        case 0: id
        case 1: reader.pick(EdgeValues.strangerUnits)
        default: reader.pick(allUnits)
        }
        let unit = Plan.Unit(id: id, name: reader.chance(90) ? "Xã \(id)" : reader.pick(EdgeValues.names),
                             kind: reader.pick(Plan.Unit.Kind.allCases), parent: parent)
        let before = try snapshot()
        do {
            try hub.addUnit(unit)
            subUnits += 1
        } catch {
            report.refused(Self.code(of: error))
            try expectUnchanged(since: before, "a refused sub-unit")
        }
    }

    /// Revokes a device, or tries a wrong token; either way the hub must refuse the handshake.
    private func revokeStep() async throws {
        let index = reader.int(0...(members.count - 1))
        if reader.chance(50) {
            try hub.revokeDevice(members[index].id)
            members[index].isRevoked = true
            members[index].connection = nil
        }
        try await handshake(index, token: members[index].token, time: clock.now)
    }

    /// Schedules a unit's inspection on a day from year 1 to 9999, mostly in 2024.
    private func scheduleStep() throws {
        let unit = reader.chance(90) ? reader.pick(allUnits) : reader.pick(EdgeValues.strangerUnits)
        let day = reader.chance(90) ? CalendarDate(daysSinceEpoch: 19_700 + Int64(reader.int(0...400)))
                                    : reader.pick([CalendarDate(daysSinceEpoch: -719_162), CalendarDate(daysSinceEpoch: 2_932_896)])
        do { try hub.schedule(unit: unit, arrival: day) } catch { report.refused(Self.code(of: error)) }
    }

    // MARK: - Helpers

    /// The context for an op by `author` now.
    func opContext(author: String) -> HubOpMaker.Context {
        let member = members.first { $0.id == author }
        let scope = member.map { member in
            member.connection.map { hub.scope(of: $0.device) } ?? hub.replica.unitsWithDescendants(of: Set(member.units))
        }?.sorted() ?? []
        return HubOpMaker.Context(author: author, sequence: member?.nextSequence ?? 1, now: clock.now, scope: scope, units: allUnits,
                                  devices: members.map(\.id), findings: findings.sorted { $0.key < $1.key }.map { ($0.key, $0.value.unit, $0.value.item) },
                                  earlier: [])
    }

    /// A message's line without its LF.
    static func line(_ message: Message) -> [UInt8] {
        var bytes = LineCodec.encode(message)
        if bytes.last == 0x0A { bytes.removeLast() }
        return bytes
    }

    /// A stable name for an error's kind.
    static func code(of error: any Error) -> String {
        switch error {
        case let error as ProtocolError: error.code.rawValue
        case let error as CoreError: error.code.rawValue
        case let error as StoreError: error.code.rawValue
        case let error as HubError: error.code.rawValue
        case let error as ReplicaStore.RefusedOperation: error.error.code.rawValue
        default: String(describing: type(of: error))
        }
    }
}

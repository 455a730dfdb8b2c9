import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorReports
import InspectorStore

// The hub's side of each step, and the rules checked after it:
//
// - the hub's clock stays within bounds: every op it holds has a valid timestamp
//   (`HLCTimestamp.isValid`) no more than `HybridLogicalClock.futureTolerance` ahead of its clock
//   when it was accepted, and a decision (`resolve`) made after any step that stored ops is stamped
//   within [clock − 1 s, clock + 10 min + 1 ms] — and wins (the millisecond: PROTOCOL.md 7.4);
// - a push changes nothing outside the pushing device's scope: the dataset of the other units is
//   byte for byte the same after it, retractions of their findings included;
// - every acknowledged op is held with equal content (read back from the store, and pulled by
//   another device whose scope holds it, through the codec);
// - a refused push, bundle, decision or sub-unit changes nothing: dataset, op count, confirmed numbers;
// - a pull serves only the device's scope and never its own ops, in a line within the limit that
//   the device decodes to the same ops;
// - exporting twice gives the same bytes;
// - at the end: the dataset is the reference merge (`MergeState`) of the ops held, every retraction
//   shown names its finding's unit, and the file passes `integrity_check`.
extension HubSession {
    /// What a refused step must leave as it found it.
    struct Snapshot: Equatable {
        /// The dataset's canonical JSON.
        var dataset: [UInt8]
        var operations: Int
        /// Each device's confirmed number.
        var confirmed: [String: Int64]
    }

    func snapshot() throws -> Snapshot {
        try snapshot(of: hub.replica.dataset())
    }

    /// A snapshot with a dataset just read.
    func snapshot(of dataset: Dataset) throws -> Snapshot {
        Snapshot(dataset: Array(dataset.canonicalJSON().utf8), operations: try hub.replica.operationCount(),
                 confirmed: Dictionary(try hub.devices().map { ($0.id, $0.confirmed) }, uniquingKeysWith: { first, _ in first }))
    }

    /// Throws unless the hub is as `before`.
    func expectUnchanged(since before: Snapshot, _ what: String) throws {
        let after = try snapshot()
        if after.operations != before.operations {
            throw Broken("\(what) changed the op count from \(before.operations) to \(after.operations)")
        }
        if after.confirmed != before.confirmed {
            throw Broken("\(what) changed the confirmed numbers from \(before.confirmed.sorted { $0.key < $1.key }) to \(after.confirmed.sorted { $0.key < $1.key })")
        }
        if after.dataset != before.dataset {
            throw Broken("\(what) changed the dataset, \(Self.difference(before.dataset, after.dataset))")
        }
    }

    /// The canonical JSON of the part of a dataset about `units`: those units, their values,
    /// findings (with their retractions) and conflicts.
    static func part(of dataset: Dataset, about units: Set<String>) -> [UInt8] {
        let part = Dataset(plan: dataset.plan, units: dataset.units.filter { units.contains($0.id) },
                           values: dataset.values.filter { units.contains($0.unit) },
                           findings: dataset.findings.filter { units.contains($0.unit) },
                           conflicts: dataset.conflicts.filter { units.contains($0.unit) })
        return Array(part.canonicalJSON().utf8)
    }

    /// Whether two ops are the same op: every key equal, strings compared by their bytes (PROTOCOL.md 6.5).
    static func same(_ a: Op, _ b: Op) -> Bool {
        a.wireJSON().utf8.elementsEqual(b.wireJSON().utf8)
    }

    // MARK: - Push

    /// Hands a push line to the hub as `HubConnection` does: the line limit, the codec, the batch
    /// cap, the scope computed afresh, `HubStore.push`; then checks the rules.
    func deliverPush(_ line: [UInt8], from index: Int) async throws {
        guard line.count < ProtocolLimits.v1.maximumLineBytes else {
            report.refused(ProtocolError.Code.lineTooLong.rawValue)
            return
        }
        let push: Message.Push
        do {
            let message = try LineCodec.decode(line)
            guard case .push(let decoded) = message else {
                report.refused("not a push (\(message.verb))")
                return
            }
            push = decoded
        } catch {
            report.refused(error.code.rawValue)
            try checkMessage(of: error)
            return
        }
        guard push.ops.count <= ProtocolLimits.v1.maximumBatchCount else {
            report.refused(ProtocolError.Code.batchTooLarge.rawValue)
            return
        }
        guard let connection = members[index].connection else { return }
        let member = members[index].id
        let scope = hub.scope(of: connection.device)
        let outside = Set(allUnits).subtracting(scope)
        let datasetBefore = try hub.replica.dataset()
        let before = try snapshot(of: datasetBefore)
        let outsideBefore = Self.part(of: datasetBefore, about: outside)
        let now = clock.now
        let pushed: Message.Pushed
        do {
            pushed = try await hub.push(push, from: connection.device, scope: scope, clockOffset: connection.clockOffset)
        } catch {
            report.refused(error.code.rawValue)
            try checkMessage(of: error)
            if error.code == .storageFailed || error.code == .internal {
                throw Broken("a push was refused with '\(error.code)' by a hub on a healthy disk: \(error.message.excerpt(300))")
            }
            try expectUnchanged(since: before, "a push refused with '\(error.code)'")
            return
        }
        report.pushesAccepted += 1
        if let head = push.head { chains.accepted(head, carrying: push.ops) }
        report.opsApplied += pushed.applied
        report.opsDuplicate += pushed.duplicates
        if pushed.applied + pushed.duplicates != push.ops.count {
            throw Broken("a push of \(push.ops.count) ops was answered applied \(pushed.applied) + duplicates \(pushed.duplicates)")
        }
        if pushed.confirmed < before.confirmed[member, default: 0] {
            throw Broken("the confirmed number of \(member) went down from \(before.confirmed[member, default: 0]) to \(pushed.confirmed)")
        }
        let outsideAfter = Self.part(of: try hub.replica.dataset(), about: outside)
        if outsideAfter != outsideBefore {
            throw Broken("a push by \(member) (scope \(scope.sorted())) changed units outside its scope, "
                         + "\(Self.difference(outsideBefore, outsideAfter)); the push: \(Self.describe(push.ops))")
        }
        try checkNewOps(acceptedAt: now)
        try checkHeld(push.ops, "acknowledged to \(member)")
        try await checkReadable(push.ops, pushedBy: member)
        remember(push.ops)
        if pushed.applied > 0 { try probeClock() }
    }

    /// A refusal's message names what is wrong in at most 512 bytes; it never echoes a payload.
    func checkMessage(of error: ProtocolError) throws {
        if error.message.utf8.count > ProtocolFuzzer.maximumMessageBytes {
            throw Broken("a '\(error.code)' refusal carries a message of \(error.message.utf8.count) bytes: \(error.message.excerpt(120))…")
        }
    }

    /// Notes ops now held: their devices' next sequence numbers, and the ops a replay may send again.
    func remember(_ ops: [Op]) {
        for op in ops {
            guard let index = members.firstIndex(where: { $0.id == op.device }) else { continue }
            if op.sequence >= members[index].nextSequence && op.sequence < Int64.max {
                members[index].nextSequence = op.sequence + 1
            }
            members[index].acknowledged.append(op)
            if members[index].acknowledged.count > Self.maximumRemembered { members[index].acknowledged.removeFirst() }
        }
    }

    // MARK: - Pull

    /// One pull as `HubConnection` serves it, checked: the scope, no own ops, a cursor that does not
    /// go back, a line within the limit that decodes on the device to the same ops; and, when the
    /// batch reaches the log's end, as many ops as the handshake's count (`to_pull`) said, full or
    /// compact (PROTOCOL.md 4.2, 11.6).
    @discardableResult
    func servePull(device: String, scope: Set<String>, after cursor: Int64, limit: Int, compact: Bool = false) async throws -> Message.OpsBatch {
        let batch: Message.OpsBatch
        let counted: Int
        do {
            counted = try await hub.pullCount(after: cursor, for: device, scope: scope, compact: compact)
            batch = try await hub.pull(after: cursor, limit: limit, for: device, scope: scope, compact: compact)
        } catch {
            throw Broken("a \(compact ? "compact " : "")pull by \(device) after \(cursor) failed: \(String(describing: error).excerpt(300))")
        }
        if !batch.more && batch.ops.count != counted {
            throw Broken("a \(compact ? "compact " : "")pull by \(device) after \(cursor) delivered \(batch.ops.count) ops to the log's end, its count said \(counted)")
        }
        report.pulls += 1
        report.opsPulled += batch.ops.count
        if batch.cursor < cursor { throw Broken("a pull after \(cursor) returned the cursor \(batch.cursor)") }
        for op in batch.ops {
            if !scope.contains(op.unit) { throw Broken("\(device) pulled \(op.device)#\(op.sequence) of unit '\(op.unit)', outside its scope \(scope.sorted())") }
            if op.device == device { throw Broken("\(device) pulled its own op #\(op.sequence)") }
        }
        let line = LineCodec.encode(.ops(batch))
        if line.count > ProtocolLimits.v1.maximumLineBytes {
            throw Broken("a pull of \(batch.ops.count) ops makes an ops line of \(line.count) bytes, over the \(ProtocolLimits.v1.maximumLineBytes)-byte limit")
        }
        let received: Message.OpsBatch
        do {
            guard case .ops(let decoded) = try LineCodec.decode(line.dropLast()) else { throw Broken("an ops line decoded as another message") }
            received = decoded
        } catch let error as ProtocolError {
            throw Broken("the device cannot decode the ops line the hub sends: \(error)")
        }
        let readable = Dictionary(received.ops.map { (Self.key($0), $0) }, uniquingKeysWith: { first, _ in first })
        for op in batch.ops {
            guard let decoded = readable[Self.key(op)], Self.same(decoded, op) else {
                throw Broken("\(op.device)#\(op.sequence), held by the hub, does not reach the device as it is: \(op.wireJSON().excerpt(300))")
            }
        }
        if received.cursor != batch.cursor || received.more != batch.more { throw Broken("the ops line changed the cursor or `more`") }
        return batch
    }

    /// Every op a device can pull from the start, page by page.
    func pullEverything(device: String, scope: Set<String>) async throws -> [Op] {
        var ops: [Op] = []
        var cursor: Int64 = 0
        for _ in 0..<10_000 {
            let batch = try await servePull(device: device, scope: scope, after: cursor, limit: ProtocolLimits.v1.maximumBatchCount)
            ops += batch.ops
            if !batch.more { return ops }
            if batch.cursor <= cursor { throw Broken("a pull with more to come did not move the cursor past \(cursor)") }
            cursor = batch.cursor
        }
        throw Broken("pulling everything took more than 10,000 pages")
    }

    /// Pulls as a member, from the session's cursor, and keeps the new cursor.
    func servePull(member index: Int, after cursor: Int64, limit: Int, compact: Bool) async throws -> Message.OpsBatch {
        guard let connection = members[index].connection else { throw Broken("a pull without a session") }
        return try await servePull(device: members[index].id, scope: hub.scope(of: connection.device), after: cursor, limit: limit, compact: compact)
    }

    static func key(_ op: Op) -> String { "\(op.device)\u{0}\(op.sequence)" }

    // MARK: - Bundles

    /// Imports a decoded bundle and checks the rules: a refusal changes nothing; an import holds
    /// every op as it was, stamped within bounds.
    func importBundle(_ bundle: BundleFile) async throws {
        let before = try snapshot()
        let now = clock.now
        let result: ReplicaStore.MergeResult
        do {
            result = try await hub.importBundle(bundle)
        } catch {
            report.refused(Self.code(of: error))
            if let error = error as? StoreError, error.code == .storageFailed {
                throw Broken("a bundle import failed in the database: \(error.message.excerpt(300))")
            }
            try expectUnchanged(since: before, "a bundle refused with '\(Self.code(of: error))'")
            return
        }
        report.bundlesImported += 1
        for head in bundle.heads { chains.accepted(head, carrying: bundle.ops) }
        report.opsApplied += result.applied
        report.opsDuplicate += result.duplicates
        if result.applied + result.duplicates != bundle.ops.count {
            throw Broken("a bundle of \(bundle.ops.count) ops imported \(result.applied) + \(result.duplicates) duplicates")
        }
        let confirmedAfter = Dictionary(try await hub.devices().map { ($0.id, $0.confirmed) }, uniquingKeysWith: { first, _ in first })
        for (device, confirmed) in before.confirmed where confirmedAfter[device, default: 0] < confirmed {
            throw Broken("a bundle import moved the confirmed number of \(device) back from \(confirmed) to \(confirmedAfter[device, default: 0])")
        }
        try checkNewOps(acceptedAt: now)
        try checkHeld(bundle.ops, "imported")
        remember(bundle.ops)
        if result.applied > 0 { try probeClock() }
    }

    // MARK: - Decisions and the clock

    /// Records a supervisor's decision. One the hub accepts is stamped within [clock − 1 s,
    /// clock + 10 min + 1 ms] and is the field's value afterwards; one it refuses changes nothing.
    /// (The extra millisecond: receiving an op at the tolerance's edge with the counter's last value
    /// carries the hub's clock into the next millisecond, PROTOCOL.md 7.4.)
    ///
    /// - Parameter probing: the decision is the clock probe, which must be accepted.
    func resolve(unit: String, item: String, field: String, value: String, by: String, probing: Bool = false) throws {
        let before = probing ? nil : try snapshot()
        let now = clock.now
        let op: Op
        do {
            op = try hub.resolve(unit: unit, item: item, field: field, value: value, by: by)
        } catch {
            if probing { throw Broken("the clock probe (a decision on \(unit) \(item) \(field)) was refused: \(String(describing: error).excerpt(300))") }
            report.refused(Self.code(of: error))
            if let error = error as? StoreError, error.code == .storageFailed {
                throw Broken("a decision failed in the database: \(error.message.excerpt(300))")
            }
            if let before { try expectUnchanged(since: before, "a refused decision ('\(Self.code(of: error))')") }
            return
        }
        report.resolves += 1
        let stamped = op.timestamp.millis
        let lowest = now - 1_000, highest = now + Self.ownTolerance
        if !op.timestamp.isValid || stamped < lowest || stamped > highest {
            let distance = stamped.subtractingReportingOverflow(now)
            throw Broken("a decision made at hub time \(now) was stamped t=\(stamped) c=\(op.timestamp.counter) "
                         + "(\(distance.overflow ? "far" : String(distance.partialValue)) ms from the clock; allowed: −1000 … +\(Self.ownTolerance))")
        }
        let shown = try hub.replica.dataset(unitIDs: [unit]).values.first { $0.unit == unit && $0.item == item && $0.field == field }
        guard let shown, shown.current.device == HubStore.deviceID, shown.current.sequence == op.sequence,
              shown.current.value.utf8.elementsEqual(op.value.utf8) else {
            throw Broken("a decision (\(op.timestamp)) is not the value of \(unit) \(item) \(field) afterwards: the dataset shows "
                         + "\(shown.map { "\($0.current.device)#\($0.current.sequence) at \($0.current.timestamp)" } ?? "nothing")")
        }
        try checkNewOps(acceptedAt: now)
    }

    /// How far ahead of its clock the hub may stamp its own ops: the tolerance, plus the millisecond a
    /// counter carried at the tolerance's edge adds.
    static let ownTolerance = HybridLogicalClock.futureTolerance + 1

    /// The clock probe: a decision on a fixed field, which must be stamped within the bounds.
    func probeClock() throws {
        let probe = Self.probe
        let value = probe.values[probes % probe.values.count]
        probes += 1
        try resolve(unit: probe.unit, item: probe.item, field: probe.field, value: value, by: "Giám sát", probing: true)
    }

    /// Checks the ops stored since the last look: valid timestamps no more than the tolerance ahead
    /// of the clock at acceptance, texts within the byte cap. Notes the findings they add.
    func checkNewOps(acceptedAt now: Int64) throws {
        for (position, op) in try hub.replica.operations(after: logPosition) {
            logPosition = max(logPosition, position)
            let stamp = "t=\(op.timestamp.millis) c=\(op.timestamp.counter)"
            if !op.timestamp.isValid {
                throw Broken("the hub holds \(op.device)#\(op.sequence) stamped \(stamp), outside the valid ranges "
                             + "(t in \(HLCTimestamp.validMillis), c in 0…\(HLCTimestamp.maximumCounter)): \(op.wireJSON().excerpt(300))")
            }
            let tolerance = op.device == HubStore.deviceID ? Self.ownTolerance : HybridLogicalClock.futureTolerance
            if op.timestamp.millis > now + tolerance {
                throw Broken("the hub accepted \(op.device)#\(op.sequence) stamped \(stamp), \(op.timestamp.millis - now) ms ahead of its clock "
                             + "(\(now)); the tolerance is \(HybridLogicalClock.futureTolerance) ms: \(op.wireJSON().excerpt(300))")
            }
            if op.value.utf8.count > Text.maximumBytes {
                throw Broken("the hub holds \(op.device)#\(op.sequence) whose value takes \(op.value.utf8.count) bytes (the cap is \(Text.maximumBytes))")
            }
            if op.kind == .findingAdd, let id = op.finding { findings[id] = (op.unit, op.item) }
        }
    }

    // MARK: - Acknowledged ops

    /// Every op is held by the hub with equal content.
    func checkHeld(_ ops: [Op], _ how: String) throws {
        for op in ops {
            let held = try hub.replica.operations(limit: 1, device: op.device, afterSequence: op.sequence &- 1).first?.operation
            guard let held, held.sequence == op.sequence, Self.same(held, op) else {
                throw Broken("\(op.device)#\(op.sequence) was \(how) but the hub holds \(held.map { Self.same($0, op) ? "it" : $0.wireJSON().excerpt(200) } ?? "nothing") under that number; "
                             + "sent: \(op.wireJSON().excerpt(200))")
            }
        }
    }

    /// Another device whose scope holds some of the ops pulls everything and finds them as they were.
    func checkReadable(_ ops: [Op], pushedBy pusher: String) async throws {
        for member in members where member.id != pusher && !member.isRevoked {
            guard let device = try await hub.device(member.id) else { throw Broken("enrolled device \(member.id) is unknown to the hub") }
            let scope = hub.scope(of: device)
            let relevant = ops.filter { scope.contains($0.unit) }
            guard !relevant.isEmpty else { continue }
            let pulled = Dictionary(try await pullEverything(device: member.id, scope: scope).map { (Self.key($0), $0) },
                                    uniquingKeysWith: { first, _ in first })
            for op in relevant {
                guard let found = pulled[Self.key(op)], Self.same(found, op) else {
                    throw Broken("\(op.device)#\(op.sequence) was acknowledged but \(member.id), whose scope holds unit '\(op.unit)', "
                                 + "pulls \(pulled[Self.key(op)].map { $0.wireJSON().excerpt(200) } ?? "nothing") for it")
                }
            }
            return
        }
    }

    // MARK: - Export and the end

    /// Exports twice (`exportInput` rendered by `ExportFiles`) and compares the bytes.
    func checkExport(asOf day: CalendarDate) throws {
        func export() throws -> [(name: String, bytes: [UInt8])] {
            do { return ExportFiles.make(try hub.exportInput(asOf: day)) } catch {
                throw Broken("the export as of \(day) failed: \(String(describing: error).excerpt(300))")
            }
        }
        let first = try export(), second = try export()
        guard first.map(\.name) == second.map(\.name) else { throw Broken("two exports gave different files: \(first.map(\.name)) and \(second.map(\.name))") }
        for (a, b) in zip(first, second) where a.bytes != b.bytes {
            throw Broken("exporting twice gave different bytes in \(a.name), \(Self.difference(a.bytes, b.bytes))")
        }
        report.exports += 1
    }

    func exportStep() throws {
        try checkExport(asOf: CalendarDate(daysSinceEpoch: 19_700 + Int64(reader.int(0...400))))
    }

    /// The checks of a session's end: an export (unless a step made one), the clock probe, the
    /// dataset against the reference merge of the ops held, every retraction on its finding's unit,
    /// `integrity_check`.
    func finish() async throws {
        if report.exports == 0 { try checkExport(asOf: CalendarDate(daysSinceEpoch: 19_894)) }
        try probeClock()
        let held = try hub.replica.operations().map(\.operation)
        var reference = MergeState()
        var stamps = Set<HLCTimestamp>()
        var stampedAlike = false
        for op in held {
            if reference.apply(op) != .applied { throw Broken("the hub holds \(op.device)#\(op.sequence) twice") }
            stampedAlike = !stamps.insert(op.timestamp).inserted || stampedAlike
        }
        // Two ops of one device with one timestamp (PROTOCOL.md 7.3 forbids it; the hub does not check)
        // tie last-writer-wins, and then arrival order decides: the reference cannot say which wins.
        let dataset = try hub.replica.dataset()
        if !stampedAlike {
            let expected = Array(reference.dataset(plan: hub.replica.plan, units: hub.replica.units).canonicalJSON().utf8)
            let actual = Array(dataset.canonicalJSON().utf8)
            if actual != expected {
                throw Broken("the hub's dataset is not the merge of the ops it holds: reference, then hub, \(Self.difference(expected, actual))")
            }
        }
        let byKey = Dictionary(held.map { (Self.key($0), $0) }, uniquingKeysWith: { first, _ in first })
        for finding in dataset.findings {
            guard let retraction = finding.retraction else { continue }
            let op = byKey["\(retraction.device)\u{0}\(retraction.sequence)"]
            guard let op, op.kind == .findingRetract, op.unit == finding.unit, op.finding == finding.id else {
                throw Broken("finding \(finding.id) of unit '\(finding.unit)' shows a retraction by \(retraction.device)#\(retraction.sequence), "
                             + "which is \(op.map { "an op on unit '\($0.unit)' naming '\($0.finding ?? "")'" } ?? "not held")")
            }
        }
        let integrity = try hub.replica.integrityCheck()
        if integrity != "ok" { throw Broken("the hub's file fails its integrity check: \(integrity.excerpt(300))") }
    }

    // MARK: - Describing

    /// Where two byte strings first differ, with a little of each around it.
    static func difference(_ a: [UInt8], _ b: [UInt8]) -> String {
        let common = zip(a, b).prefix { $0 == $1 }.count
        let start = max(0, common - 60)
        func around(_ bytes: [UInt8]) -> String {
            String(decoding: bytes[min(start, bytes.count)..<min(bytes.count, common + 120)], as: UTF8.self)
        }
        return "from byte \(common): «\(around(a))» became «\(around(b))»"
    }

    /// A batch in short: each op's wire JSON, cut.
    static func describe(_ ops: [Op]) -> String {
        ops.prefix(8).map { $0.wireJSON().excerpt(160) }.joined(separator: ", ") + (ops.count > 8 ? ", … (\(ops.count) ops)" : "")
    }
}

import Foundation
import InspectorCore
import InspectorStore
import Testing

@Suite struct ReplicaStoreEditsTests {
    @Test func setRecordsAStampedCanonicalOperation() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try makeStore(in: dir, device: "dev-a", clock: clock)
            let first = try store.set(unit: "muong-lay", item: "II.5", field: "reward_spending_total", value: " 12500000,50 ")
            #expect(first.kind == .set)
            #expect(first.device == "dev-a")
            #expect(first.sequence == 1)
            #expect(first.timestamp == HLCTimestamp(millis: baseMillis, counter: 0, device: "dev-a"))
            #expect(first.value == "12500000.5")
            let second = try store.set(unit: "muong-lay", item: "II.5", field: "fund_percent", value: "12,50")
            #expect(second.sequence == 2)
            #expect(second.timestamp == HLCTimestamp(millis: baseMillis, counter: 1, device: "dev-a"))
            #expect(second.value == "12.5")
            clock.advance(by: 1_000)
            let third = try store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(third.timestamp == HLCTimestamp(millis: baseMillis + 1_000, counter: 0, device: "dev-a"))

            #expect(try store.operations().map(\.operation) == [first, second, third])
            let values = try store.dataset().values
            #expect(values.map { "\($0.item) \($0.field)=\($0.current.value)" } ==
                    ["II.4 status=done", "II.5 reward_spending_total=12500000.5", "II.5 fund_percent=12.5"])
            #expect(try store.dataset().canonicalJSON().contains("\"value\": 12500000.5,"))
        }
    }

    @Test func laterSetReplacesTheValue() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try makeStore(in: dir, device: "dev-a", clock: clock)
            try store.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            clock.advance(by: -5_000)  // the wall clock jumps back; the edit still wins
            let op = try store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(op.timestamp.millis == baseMillis && op.timestamp.counter == 1)
            let data = try store.dataset()
            #expect(data.values.count == 1)
            #expect(data.values[0].current.value == "done")
            #expect(data.conflicts.isEmpty)
        }
    }

    @Test func findingsAreAddedAndRetracted() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try makeStore(in: dir, device: "dev-a", clock: clock)
            let add = try store.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "  Chưa trích lập quỹ  ")
            #expect(add.kind == .findingAdd)
            #expect(add.finding == "dev-a/1")
            #expect(add.value == "Chưa trích lập quỹ")
            let whole = try store.addFinding(unit: "muong-ang", item: nil, kind: .goodPractice, text: "Mô hình hay")
            #expect(whole.item == nil)
            clock.advance(by: 10)
            let retract = try store.retractFinding("dev-a/1", reason: "Nhầm đơn vị")
            #expect(retract.kind == .findingRetract)
            #expect(retract.finding == "dev-a/1")
            #expect(retract.unit == "muong-lay" && retract.item == "II.5")
            #expect(retract.value == "Nhầm đơn vị")

            let findings = try store.dataset().findings
            #expect(findings.map(\.id) == ["dev-a/1", "dev-a/2"])
            #expect(findings[0].retraction?.value == "Nhầm đơn vị")
            #expect(findings[0].retraction?.device == "dev-a")
            #expect(findings[0].kind == .shortcoming)
            #expect(findings[1].retraction == nil)
            #expect(findings[1].kind == .goodPractice)

            // A second retraction replaces the reason; the finding stays.
            let again = try store.retractFinding("dev-a/1", reason: "Trùng lặp")
            #expect(again.sequence == 4)
            #expect(try store.dataset().findings[0].retraction?.value == "Trùng lặp")
            #expect(try store.operationCount() == 4)
        }
    }

    /// Each bad input throws a clear error and writes nothing.
    static let badEdits: [(name: String, code: String, mentions: String, edit: @Sendable (ReplicaStore) throws -> Void)] = [
        ("unknown unit", "unknown_unit", "muong-xyz", { try $0.set(unit: "muong-xyz", item: "II.4", field: "status", value: "done") }),
        ("unknown item", "unknown_item", "II.9", { try $0.set(unit: "muong-lay", item: "II.9", field: "status", value: "done") }),
        ("unknown field", "unknown_field", "colour", { try $0.set(unit: "muong-lay", item: "II.4", field: "colour", value: "done") }),
        ("field of another item", "unknown_field", "fund_percent", { try $0.set(unit: "muong-lay", item: "II.4", field: "fund_percent", value: "5") }),
        ("enum value", "invalid_value", "status", { try $0.set(unit: "muong-lay", item: "II.4", field: "status", value: "finished") }),
        ("integer", "invalid_value", "collectives_state", { try $0.set(unit: "muong-lay", item: "II.4", field: "collectives_state", value: "ba") }),
        ("negative count", "invalid_value", "collectives_state", { try $0.set(unit: "muong-lay", item: "II.4", field: "collectives_state", value: "-1") }),
        ("decimal", "invalid_value", "reward_spending_total", { try $0.set(unit: "muong-lay", item: "II.5", field: "reward_spending_total", value: "12.500.000") }),
        ("percent", "invalid_value", "fund_percent", { try $0.set(unit: "muong-lay", item: "II.5", field: "fund_percent", value: "100,5") }),
        ("empty text", "invalid_text", "note", { try $0.set(unit: "muong-lay", item: "II.4", field: "note", value: "   ") }),
        ("text too long", "invalid_text", "fund_source", { try $0.set(unit: "muong-lay", item: "II.5", field: "fund_source", value: String(repeating: "a", count: 501)) }),
        ("finding unit", "unknown_unit", "muong-xyz", { try $0.addFinding(unit: "muong-xyz", item: nil, kind: .observation, text: "x") }),
        ("finding item", "unknown_item", "II.9", { try $0.addFinding(unit: "muong-lay", item: "II.9", kind: .observation, text: "x") }),
        ("empty finding", "invalid_text", "finding text", { try $0.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "") }),
        ("control character", "invalid_text", "finding text", { try $0.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "a\u{1B}b") }),
        ("unknown finding", "unknown_finding", "dev-z/9", { try $0.retractFinding("dev-z/9", reason: "nhầm") }),
        ("empty reason", "invalid_text", "retraction reason", { try $0.retractFinding("dev-a/1", reason: " ") }),
    ]

    @Test(arguments: 0..<badEdits.count)
    func badInputThrowsAndWritesNothing(index: Int) throws {
        let bad = Self.badEdits[index]
        try withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            try store.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Chưa trích lập quỹ")
            try store.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            let before = try store.dataset().canonicalJSON()
            let error = thrown { try bad.edit(store) }
            #expect(error.code == bad.code, "\(bad.name): \(error.message)")
            #expect(error.message.contains(bad.mentions), "\(bad.name): \(error.message)")
            #expect(try store.operationCount() == 2, "\(bad.name)")
            #expect(try store.lastSequence(of: "dev-a") == 2)
            #expect(try store.dataset().canonicalJSON() == before)
            // And the next good edit takes the next number: nothing was used up.
            #expect(try store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done").sequence == 3)
        }
    }

    @Test func unitsOutsideTheScopeAreRefused() throws {
        try withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            let earlier = try store.addFinding(unit: "muong-ang", item: nil, kind: .observation, text: "Trước khi phân công")
            try store.recordScope(["muong-lay"])
            #expect(try store.scope() == ["muong-lay"])
            let count = try store.operationCount()

            for (name, edit) in [
                ("set", { try store.set(unit: "muong-ang", item: "II.4", field: "status", value: "done") }),
                ("add", { try store.addFinding(unit: "muong-ang", item: nil, kind: .observation, text: "x") }),
                ("retract", { try store.retractFinding(earlier.finding!, reason: "nhầm") }),
            ] as [(String, () throws -> Op)] {
                let error = thrown { _ = try edit() }
                #expect(error.code == "out_of_scope", "\(name)")
                #expect(error.message.contains("muong-ang"), "\(name): \(error.message)")
                #expect(error.message.contains("muong-lay"), "\(name): the message lists what the device may write")
            }
            #expect(try store.operationCount() == count)
            // An unknown unit is still reported as unknown, not as out of scope.
            #expect(thrown { try store.set(unit: "muong-xyz", item: "II.4", field: "status", value: "done") }.code == "unknown_unit")
            // Inside the scope, edits go through.
            try store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(try store.operationCount() == count + 1)
            // Removing the scope lifts the restriction.
            try store.recordScope(nil)
            try store.set(unit: "muong-ang", item: "II.4", field: "status", value: "done")
        }
    }

    @Test func textIsStoredInNFC() throws {
        try withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            let decomposed = "Mu\u{031B}o\u{031B}\u{0300}ng Lay đa\u{0303} ho\u{0300}a\u{0300}n tha\u{0300}nh"
            let nfc = decomposed.precomposedStringWithCanonicalMapping
            #expect(scalars(nfc) != scalars(decomposed))

            let set = try store.set(unit: "muong-lay", item: "I.1", field: "note", value: decomposed)
            #expect(scalars(set.value) == scalars(nfc))
            let add = try store.addFinding(unit: "muong-lay", item: "I.1", kind: .observation, text: decomposed)
            #expect(scalars(add.value) == scalars(nfc))
            let retract = try store.retractFinding(add.finding!, reason: "Ly\u{0301} do")
            #expect(scalars(retract.value) == scalars("Lý do"))

            // What is read back — the log, the state and the export — is NFC too.
            for (_, op) in try store.operations() { #expect(op.value.unicodeScalars.elementsEqual(Text.nfc(op.value).unicodeScalars)) }
            let data = try store.dataset()
            #expect(scalars(data.values[0].current.value) == scalars(nfc))
            #expect(scalars(data.findings[0].text) == scalars(nfc))
            #expect(Array(data.canonicalJSON().utf8).firstRange(of: Array(nfc.utf8)) != nil)
            #expect(Array(data.canonicalJSON().utf8).firstRange(of: Array(decomposed.utf8)) == nil)
        }
    }

    /// An own op with the last sequence number (the semantic hub fuzzer once brought one in a bundle:
    /// the next local edit, or `hub resolve`, computed `last + 1` and trapped). Merges now refuse it
    /// (`own_operation`); a damaged file may still hold one, and edits then stop with a clear error.
    @Test func anOwnOpAtTheLastSequenceNumberStopsEditsWithAClearError() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try makeStore(in: dir, device: "dev-a", clock: clock)
            let last = Op.set(device: "dev-a", sequence: .max, timestamp: HLCTimestamp(millis: baseMillis, counter: 0, device: "dev-a"),
                              unit: "muong-lay", item: "II.4", field: "status", value: "done")
            #expect(thrown { try store.merge([last]) }.code == "own_operation")
            #expect(thrown { try store.restoreOwnOperations([last]) }.code == "own_operation")
            // The damaged file: the row written behind the store's back.
            try store.writer.write { db in
                try db.execute(sql: """
                    INSERT OR IGNORE INTO names (name) VALUES ('dev-a'), ('muong-lay'), ('II.4'), ('status');
                    INSERT INTO ops (device, seq, hlc, kind, unit, item, field, value) VALUES (
                        (SELECT id FROM names WHERE name = 'dev-a'), ?, ?, 0, (SELECT id FROM names WHERE name = 'muong-lay'),
                        (SELECT id FROM names WHERE name = 'II.4'), (SELECT id FROM names WHERE name = 'status'), 'done')
                    """, arguments: [Int64.max, last.timestamp.packed])
            }
            let error = thrown { try store.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot") }
            #expect(error.code == "sequence_exhausted", "\(error)")
            #expect(try store.operationCount() == 1)
            let again = thrown { _ = try store.recordAgainOperationsAhead(also: [.max], confirmed: 0) }
            #expect(again.code == "sequence_exhausted", "\(again)")
        }
    }
}

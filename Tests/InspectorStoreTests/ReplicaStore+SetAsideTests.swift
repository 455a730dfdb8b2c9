import Foundation
import GRDB
import InspectorCore
import InspectorStore
import Testing

@Suite struct ReplicaStoreSetAsideTests {
    @Test func aSetAsideOpLeavesTheStateButStaysInTheLog() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock()
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            clock.advance(by: 10)
            let refused = try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            let finding = try a.addFinding(unit: "muong-lay", item: "II.3", kind: .observation, text: "Ghi nhận")
            try a.setAside(ReplicaStore.SetAsideOp(sequence: refused.sequence, code: "out_of_scope", message: "refused"))
            try a.setAside(ReplicaStore.SetAsideOp(sequence: finding.sequence, code: "invalid_op", message: "refused"))
            let dataset = try a.dataset()
            #expect(dataset.values.first { $0.field == "status" }?.current.value == "in_progress")
            #expect(dataset.findings.isEmpty)
            #expect(try a.operations().count == 3)
            #expect(try a.operations(includingSetAside: false).map(\.operation.sequence) == [1])
            #expect(try a.setAsideOperations().map(\.sequence) == [2, 3])
            // Setting aside twice changes nothing; the next edit takes the next number.
            try a.setAside(ReplicaStore.SetAsideOp(sequence: refused.sequence, code: "out_of_scope", message: "again"))
            #expect(try a.setAsideOperations().count == 2)
            #expect(try a.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot").sequence == 4)
        }
    }

    @Test func correctingUnsentTimestampsMovesOnlyWhatNeverLeftInBothDirections() throws {
        for offset in [-10 * 365 * dayMillis, 10 * 365 * dayMillis, -3_600_000] {
            try withTemporaryDirectory { dir in
                let clock = ManualClock(baseMillis - offset)  // wrong by -offset: hub time = clock + offset
                let a = try makeStore(in: dir, device: "dev-a", clock: clock)
                for value in ["not_started", "in_progress", "done"] {
                    try a.set(unit: "muong-lay", item: "II.4", field: "status", value: value)
                    clock.advance(by: 1_000)
                }
                let before = try a.operations().map(\.operation)
                #expect(try a.correctUnsentTimestamps(by: offset, confirmed: 0) == 3)
                let after = try a.operations().map(\.operation)
                for (old, new) in zip(before, after) {
                    #expect(new.timestamp.millis == old.timestamp.millis + offset && new.timestamp.counter == old.timestamp.counter)
                }
                #expect(try a.dataset().values.first?.current.timestamp == after[2].timestamp)
                // The clock now follows the corrected log: the next edit is stamped at corrected time.
                try a.recordClockOffset(offset)
                let next = try a.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
                #expect(abs(next.timestamp.millis - (clock.now + offset)) <= 1, "\(next.timestamp)")
            }
        }
    }

    @Test func correctionKeepsOrderAfterOpsThatLeftAndStaysInRange() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock(baseMillis)
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            clock.advance(by: 1_000)
            try a.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
            try a.noteExported(throughSequence: 1)
            // Moving #2 back before #1, which left in a bundle, would reorder this device's ops.
            #expect(try a.correctUnsentTimestamps(by: -5_000, confirmed: 0) == 0)
            // Out of the valid range: nothing is corrected.
            #expect(try a.correctUnsentTimestamps(by: .max, confirmed: 0) == 0)
            #expect(try a.correctUnsentTimestamps(by: HLCTimestamp.validMillis.upperBound, confirmed: 0) == 0)
            #expect(try a.operations().map(\.operation.timestamp.millis) == [baseMillis, baseMillis + 1_000])
            #expect(try a.correctUnsentTimestamps(by: 500, confirmed: 0) == 1)
        }
    }

    @Test func opsStampedAheadAreRecordedAgainWithTheCorrectedClock() throws {
        try withTemporaryDirectory { dir in
            let clock = ManualClock(baseMillis + dayMillis)  // a day fast, after its last sync
            let a = try makeStore(in: dir, device: "dev-a", clock: clock)
            try a.recordClockOffset(0)
            let set = try a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            let add = try a.addFinding(unit: "muong-lay", item: "II.3", kind: .shortcoming, text: "Thiếu hồ sơ")
            clock.set(baseMillis)  // the clock is put right
            let retract = try a.retractFinding(add.finding!, reason: "Đã bổ sung")
            #expect(retract.timestamp > add.timestamp && add.timestamp > set.timestamp, "the HLC follows the ops it issued")
            let again = try a.recordAgainOperationsAhead(confirmed: 0)
            #expect(again.map(\.sequence) == [4, 5, 6])
            #expect(again.map(\.kind) == [.set, .findingAdd, .findingRetract])
            #expect(again.allSatisfy { abs($0.timestamp.millis - baseMillis) <= 2 }, "\(again.map(\.timestamp))")
            #expect(again[1].finding == "dev-a/5" && again[2].finding == "dev-a/5", "the retraction follows its re-recorded finding")
            #expect(try a.setAsideOperations().map(\.sequence) == [1, 2, 3])
            #expect(try a.setAsideOperations().allSatisfy { $0.code == "clock_ahead" })
            let dataset = try a.dataset()
            #expect(dataset.findings.map(\.id) == ["dev-a/5"] && dataset.findings.first?.retraction?.value == "Đã bổ sung")
            #expect(dataset.values.first?.current.sequence == 4)
            // Nothing is left ahead; a named op is recorded again whatever its time.
            #expect(try a.recordAgainOperationsAhead(confirmed: 0).isEmpty)
            #expect(try a.recordAgainOperationsAhead(also: [4], confirmed: 0).map(\.sequence) == [7])
        }
    }

    @Test func aReplicaOfThePreviousReleaseMigratesItsSetAsideOps() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("old.sqlite").path
            // A file of the release before set-aside ops had a column, written as that release wrote
            // it: its schema (migration v1), two edits of one field, the state still holding the
            // second, which the hub refused, and the refusal only in meta.
            do {
                let queue = try DatabaseQueue(path: path)
                try queue.write { db in
                    try db.execute(sql: """
                        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                        INSERT INTO grdb_migrations VALUES ('v1');
                        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                        CREATE TABLE units (
                            id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT, from_plan INTEGER NOT NULL
                        ) WITHOUT ROWID;
                        CREATE TABLE ops (
                            position INTEGER PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL,
                            ms INTEGER NOT NULL, counter INTEGER NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL, item TEXT, field TEXT,
                            finding TEXT, finding_kind TEXT, value TEXT NOT NULL, UNIQUE (device, seq)
                        );
                        CREATE INDEX ops_by_field ON ops (unit, item, field, device) WHERE kind = 'set';
                        CREATE TABLE field_values (
                            unit TEXT NOT NULL, item TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
                            device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL,
                            PRIMARY KEY (unit, item, field)
                        ) WITHOUT ROWID;
                        CREATE TABLE findings (
                            id TEXT PRIMARY KEY, unit TEXT NOT NULL, item TEXT, kind TEXT NOT NULL, text TEXT NOT NULL,
                            device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL
                        ) WITHOUT ROWID;
                        CREATE TABLE retractions (
                            finding TEXT PRIMARY KEY, reason TEXT NOT NULL,
                            device TEXT NOT NULL, seq INTEGER NOT NULL, ms INTEGER NOT NULL, counter INTEGER NOT NULL
                        ) WITHOUT ROWID;
                        INSERT INTO meta (key, value) VALUES ('device', 'dev-a'), ('clock_millis', ?), ('clock_counter', '0'),
                            ('refused', '[{"sequence":2,"code":"out_of_scope","message":"old"}]');
                        INSERT INTO ops (device, seq, ms, counter, kind, unit, item, field, value) VALUES
                            ('dev-a', 1, ?, 0, 'set', 'muong-lay', 'II.4', 'status', 'in_progress'),
                            ('dev-a', 2, ?, 0, 'set', 'muong-lay', 'II.4', 'status', 'done');
                        INSERT INTO field_values VALUES ('muong-lay', 'II.4', 'status', 'done', 'dev-a', 2, ?, 0);
                        """, arguments: [String(baseMillis + 5), baseMillis, baseMillis + 5, baseMillis + 5])
                    try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('plan', ?)",
                                   arguments: [String(decoding: builtInPlan.encoded(), as: UTF8.self)])
                    for unit in builtInPlan.units {
                        try db.execute(sql: "INSERT INTO units VALUES (?, ?, ?, ?, 1)", arguments: [unit.id, unit.name, unit.kind.rawValue, unit.parent])
                    }
                }
            }
            let reopened = try ReplicaStore.open(at: path)
            #expect(try reopened.dataset().values.first?.current.value == "in_progress")
            #expect(try reopened.operations(includingSetAside: false).map(\.operation.sequence) == [1])
            #expect(try reopened.heldBackOperations().isEmpty)
            #expect(try reopened.integrityCheck() == "ok")
        }
    }
}

import Crypto
import Foundation
import GRDB
import InspectorCore
@testable import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorTLS
import Testing
@testable import InspectorTestSupport

@Suite("HubStore: devices and tokens")
struct HubStoreDeviceTests {
    @Test func enrollingReturnsAFreshTokenAndKeepsOnlyItsHash() throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let tokenA = try hub.addDevice("dev-a", units: ["muong-lay"], name: " Lò Văn Hùng ")
        let tokenB = try hub.addDevice("dev-b", units: ["so-y-te", "muong-lay"], name: nil)
        let lineA = try EnrollmentLine(parsing: tokenA), lineB = try EnrollmentLine(parsing: tokenB)
        #expect(lineA.secret.count == 64 && lineA.secret.allSatisfy(\.isHexDigit))
        #expect(lineA.hubKey == hub.identity.fingerprint && lineB.hubKey == hub.identity.fingerprint, "the line pins the hub's key")
        #expect(lineA.secret != lineB.secret)
        let stored = try hub.replica.writer.read { db in try String.fetchAll(db, sql: "SELECT token_hash FROM devices ORDER BY id") }
        #expect(!stored.contains(lineA.secret) && !stored.contains(lineB.secret), "the hub keeps only hashes of secrets")
        let devices = try hub.devices()
        #expect(devices.map(\.id) == ["dev-a", "dev-b"])
        #expect(devices[0].name == "Lò Văn Hùng", "the holder's name is trimmed")
        #expect(devices[1].units == ["so-y-te", "muong-lay"])
        #expect(devices.allSatisfy { !$0.isRevoked && $0.confirmed == 0 && $0.lastSync == nil && $0.clockOffset == nil })
    }

    @Test func enrollingRefusesBadIdsUnitsAndDuplicates() throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        #expect(throws: CoreError.self) { try hub.addDevice("Dev A", units: ["muong-lay"], name: nil) }
        #expect(hubErrorCode { _ = try hub.addDevice("hub", units: ["muong-lay"], name: nil) } == "device_exists")
        #expect(hubErrorCode { _ = try hub.addDevice("dev-a", units: ["so-y-te"], name: nil) } == "device_exists")
        #expect(hubErrorCode { _ = try hub.addDevice("dev-b", units: [], name: nil) } == "invalid_units")
        #expect(hubErrorCode { _ = try hub.addDevice("dev-b", units: ["muong-lay", "atlantis"], name: nil) } == "invalid_units")
        #expect(try hub.devices().map(\.id) == ["dev-a"], "a refused enrollment leaves nothing behind")
    }

    @Test func authenticationNeedsTheDevicesOwnTokenAndNoRevocation() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let tokenA = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let tokenB = try hub.addDevice("dev-b", units: ["muong-lay"], name: nil)
        #expect(try await hub.authenticate(device: "dev-a", token: tokenA, key: nil)?.id == "dev-a")
        #expect(try await hub.authenticate(device: "dev-a", token: tokenB, key: nil) == nil)
        #expect(try await hub.authenticate(device: "dev-a", token: "", key: nil) == nil)
        #expect(try await hub.authenticate(device: "dev-a", token: tokenA.uppercased(), key: nil) == nil)
        #expect(try await hub.authenticate(device: "dev-z", token: tokenA, key: nil) == nil)
        try hub.revokeDevice("dev-a")
        #expect(try await hub.authenticate(device: "dev-a", token: tokenA, key: nil) == nil)
        #expect(try await hub.device("dev-a")?.isRevoked == true)
        #expect(try await hub.authenticate(device: "dev-b", token: tokenB, key: nil) != nil, "revoking one device leaves the others")
        #expect(hubErrorCode { try hub.revokeDevice("dev-z") } == "unknown_device")
    }

    @Test func tokensSurviveReopeningTheHub() async throws {
        let directory = TemporaryDirectory()
        let token = try makeHub(directory).addDevice("dev-a", units: ["muong-lay"], name: nil)
        let reopened = try HubStore.open(at: directory.path("hub.sqlite"), clock: { fixedHubTime })
        #expect(try await reopened.authenticate(device: "dev-a", token: token, key: nil) != nil)
    }

    @Test func aDeviceReplicaIsNotAHub() throws {
        let directory = TemporaryDirectory()
        _ = try ReplicaStore.create(at: directory.path("device.sqlite"), device: "dev-a", plan: builtInPlan)
        #expect(hubErrorCode { _ = try HubStore.open(at: directory.path("device.sqlite")) } == "not_a_hub")
    }

    @Test func theHubWritesWithSynchronousFull() throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let mode = try hub.replica.writer.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        // ReplicaStore.openPool sets the pragma again on the writer, after GRDB's DatabasePool set NORMAL with WAL.
        #expect(mode == 2, "synchronous=FULL is 2 on the connection that writes")
        let readMode = try hub.replica.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(readMode == 2)
    }
}

@Suite("HubStore: scope")
struct HubStoreScopeTests {
    @Test func scopeIsTheAssignedUnitsAndEveryUnitBelow() throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try hub.addUnit(Plan.Unit(id: "muong-lay.na-lay", name: "Phường Na Lay", kind: .direct, parent: "muong-lay"))
        try hub.addUnit(Plan.Unit(id: "muong-lay.na-lay.to-1", name: "Tổ dân phố 1", kind: .self, parent: "muong-lay.na-lay"))
        try hub.addUnit(Plan.Unit(id: "so-y-te.bv", name: "Bệnh viện tỉnh", kind: .self, parent: "so-y-te"))
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        _ = try hub.addDevice("dev-b", units: ["muong-lay.na-lay", "vksnd"], name: nil)
        let devices = try hub.devices()
        #expect(hub.scope(of: devices[0]) == ["muong-lay", "muong-lay.na-lay", "muong-lay.na-lay.to-1"])
        #expect(hub.scope(of: devices[1]) == ["muong-lay.na-lay", "muong-lay.na-lay.to-1", "vksnd"])
    }

    @Test func aSubUnitAddedAfterEnrollmentJoinsTheScope() throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let device = try hub.devices()[0]
        #expect(hub.scope(of: device) == ["muong-lay"])
        try hub.addUnit(Plan.Unit(id: "muong-lay.song-da", name: "Phường Sông Đà", kind: .direct, parent: "muong-lay"))
        #expect(hub.scope(of: device) == ["muong-lay", "muong-lay.song-da"])
    }

    @Test func aSubUnitNeedsAKnownParent() throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        #expect(throws: (any Error).self) {
            try hub.addUnit(Plan.Unit(id: "x.y", name: "Nowhere", kind: .direct, parent: "atlantis"))
        }
        #expect(!hub.replica.units.contains { $0.id == "x.y" })
    }
}

@Suite("HubStore: push")
struct HubStorePushTests {
    /// A hub with dev-a on muong-lay and dev-b on muong-lay and so-y-te.
    func setUp(_ directory: TemporaryDirectory) throws -> (HubStore, HubStore.Device, HubStore.Device) {
        let hub = try makeHub(directory)
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        _ = try hub.addDevice("dev-b", units: ["muong-lay", "so-y-te"], name: nil)
        let devices = try hub.devices()
        return (hub, devices[0], devices[1])
    }

    func push(_ hub: HubStore, _ device: HubStore.Device, _ ops: [Op], withdrawn: [Int64] = []) async throws(ProtocolError) -> Message.Pushed {
        try await hub.push(Message.Push(ops: ops, withdrawn: withdrawn), from: device, scope: hub.scope(of: device))
    }

    func refusal(_ body: () async throws(ProtocolError) -> Message.Pushed) async -> ProtocolError? {
        do {
            let pushed = try await body()
            Issue.record("expected a refusal, the hub answered \(pushed)")
            return nil
        } catch {
            return error
        }
    }

    @Test func aPushIsAllOrNothing() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        let batch = [setOp("dev-a", 1), setOp("dev-a", 2, item: "II.5", field: "fund_percent", value: "12.5"),
                     setOp("dev-a", 3, item: "II.5", field: "fund_percent", value: "100.01")]
        let error = await refusal { () throws(ProtocolError) in try await push(hub, a, batch) }
        #expect(error?.code == .invalidOp)
        #expect(error?.sequence == 3)
        #expect(try hub.replica.operationCount() == 0, "nothing of a refused batch is stored")
        #expect(try await hub.confirmed(device: "dev-a") == 0)
        let pushed = try await push(hub, a, Array(batch.prefix(2)))
        #expect(pushed == Message.Pushed(confirmed: 2, applied: 2, duplicates: 0))
    }

    @Test func theFirstBadOperationInBatchOrderIsNamed() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        let batch = [setOp("dev-a", 1), setOp("dev-a", 2, unit: "so-y-te"), setOp("dev-b", 3), setOp("dev-a", 4, value: "bad")]
        let error = await refusal { () throws(ProtocolError) in try await push(hub, a, batch) }
        #expect(error?.code == .outOfScope)
        #expect(error?.sequence == 2)
        let second = await refusal { () throws(ProtocolError) in try await push(hub, a, Array(batch.dropFirst(2))) }
        #expect(second?.code == .foreignDevice)
        #expect(second?.sequence == 3)
    }

    @Test func resendingIsANoOpAndAnotherOperationUnderAUsedIdentityIsRefused() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        _ = try await push(hub, a, [setOp("dev-a", 1), setOp("dev-a", 2)])
        let again = try await push(hub, a, [setOp("dev-a", 1), setOp("dev-a", 2), setOp("dev-a", 3)])
        #expect(again == Message.Pushed(confirmed: 3, applied: 1, duplicates: 2))
        let conflicting = await refusal { () throws(ProtocolError) in
            try await push(hub, a, [setOp("dev-a", 4), setOp("dev-a", 2, value: "in_progress")])
        }
        #expect(conflicting?.code == .conflictingOp)
        #expect(conflicting?.sequence == 2, "conflicting_op names the op's seq, so a device can set it aside")
        #expect(try hub.replica.operationCount() == 3, "operation 4 of the refused batch is not stored")
        #expect(try hub.replica.dataset().values.first?.current.value == "done")
    }

    /// PROTOCOL.md 10.2, step 5: two different operations under one identity in the same batch
    /// conflict too, and the refusal names the first one in batch order that conflicts.
    @Test func twoDifferentOperationsUnderOneIdentityInABatchConflict() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        let conflicting = await refusal { () throws(ProtocolError) in
            try await push(hub, a, [setOp("dev-a", 1), setOp("dev-a", 2), setOp("dev-a", 2, value: "in_progress"), setOp("dev-a", 3)])
        }
        #expect(conflicting?.code == .conflictingOp)
        #expect(conflicting?.sequence == 2)
        #expect(try hub.replica.operationCount() == 0)
        // The same operation twice in a batch is a duplicate, not a conflict.
        let pushed = try await push(hub, a, [setOp("dev-a", 1), setOp("dev-a", 1)])
        #expect(pushed == Message.Pushed(confirmed: 1, applied: 1, duplicates: 1))
    }

    @Test func withdrawnNumbersCountAsSettled() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        #expect(try await push(hub, a, [setOp("dev-a", 1), setOp("dev-a", 3)], withdrawn: [2]).confirmed == 3)
        // A gap stops the confirmed number until it is filled.
        #expect(try await push(hub, a, [setOp("dev-a", 5)], withdrawn: [6]).confirmed == 3)
        #expect(try await push(hub, a, [], withdrawn: [4]).confirmed == 6)
        // A withdrawn number that arrives later is stored; confirmed does not move back.
        let late = try await push(hub, a, [setOp("dev-a", 2), setOp("dev-a", 7)])
        #expect(late == Message.Pushed(confirmed: 7, applied: 2, duplicates: 0))
        #expect(try await hub.confirmed(device: "dev-a") == 7)
        #expect(try await hub.device("dev-a")?.confirmed == 7)
    }

    @Test func withdrawnNumbersBelowOneRefuseTheWholePush() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        let error = await refusal { () throws(ProtocolError) in try await push(hub, a, [setOp("dev-a", 1)], withdrawn: [0]) }
        #expect(error?.code == .badMessage)
        #expect(error?.sequence == nil)
        #expect(try hub.replica.operationCount() == 0)
    }

    @Test func confirmedNumbersAreKeptPerDevice() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, b) = try setUp(directory)
        _ = try await push(hub, a, [setOp("dev-a", 1), setOp("dev-a", 2)])
        _ = try await push(hub, b, [setOp("dev-b", 1, unit: "so-y-te")])
        #expect(try await hub.confirmed(device: "dev-a") == 2)
        #expect(try await hub.confirmed(device: "dev-b") == 1)
        #expect(try await hub.confirmed(device: "dev-z") == 0)
    }

    @Test func pushedOperationsAreOnDiskWhenThePushReturns() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        _ = try await push(hub, a, [setOp("dev-a", 1)])
        let reopened = try HubStore.open(at: directory.path("hub.sqlite"), clock: { fixedHubTime })
        #expect(try reopened.replica.operationCount() == 1)
        #expect(try await reopened.confirmed(device: "dev-a") == 1)
    }

    @Test func lastWriterWinsByTimestampThenCounterThenDeviceBytes() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, b) = try setUp(directory)
        let t: Int64 = 1_718_845_320_000
        func op(_ device: String, _ seq: Int64, _ millis: Int64, _ counter: Int64, _ value: String) -> Op {
            .set(device: device, sequence: seq, timestamp: ts(millis, counter, device), unit: "muong-lay", item: "II.6.c", field: "staff_count", value: value)
        }
        // Arrival order must not matter: the later timestamp arrives first.
        _ = try await push(hub, b, [op("dev-b", 1, t + 10, 0, "20")])
        _ = try await push(hub, a, [op("dev-a", 1, t + 5, 7, "10")])
        #expect(try hub.replica.dataset().values.first?.current.value == "20")
        // Same millis: the counter decides.
        _ = try await push(hub, a, [op("dev-a", 2, t + 10, 1, "11")])
        #expect(try hub.replica.dataset().values.first?.current.value == "11")
        // Same millis and counter: the device id's bytes decide ("dev-b" > "dev-a").
        _ = try await push(hub, b, [op("dev-b", 2, t + 10, 1, "21")])
        #expect(try hub.replica.dataset().values.first?.current.value == "21")
        #expect(try hub.replica.dataset().conflicts.count == 1)
    }

    @Test func findingsAreAppendOnlyAndTheLatestRetractionWins() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, b) = try setUp(directory)
        let t: Int64 = 1_718_845_320_000
        let add = Op.findingAdd(device: "dev-a", sequence: 1, timestamp: ts(t, 0, "dev-a"), unit: "muong-lay", item: nil,
                                kind: .recommendation, text: "Kiện toàn Hội đồng Thi đua - Khen thưởng.")
        let later = Op.findingRetract(device: "dev-b", sequence: 1, timestamp: ts(t + 20, 0, "dev-b"), unit: "muong-lay", item: nil,
                                      finding: "dev-a/1", reason: "Đã thực hiện.")
        let earlier = Op.findingRetract(device: "dev-a", sequence: 2, timestamp: ts(t + 10, 0, "dev-a"), unit: "muong-lay", item: nil,
                                        finding: "dev-a/1", reason: "Trùng lặp.")
        // The hub refuses a retraction of a finding it does not hold: it scopes retractions by their finding.
        let refused = await refusal { () async throws(ProtocolError) in try await push(hub, b, [later]) }
        #expect(refused?.code == .unknownFinding && refused?.sequence == 1, "\(String(describing: refused))")
        // A finding and its retraction in one batch; then the later retraction arrives after the earlier one.
        _ = try await push(hub, a, [add, earlier])
        _ = try await push(hub, b, [later])
        let findings = try hub.replica.dataset().findings
        #expect(findings.count == 1)
        #expect(findings.first?.text == "Kiện toàn Hội đồng Thi đua - Khen thưởng.")
        #expect(findings.first?.retraction?.value == "Đã thực hiện.")
    }

    @Test func textLengthIsCheckedAgainstTheFieldsMaxLength() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        let fits = String(repeating: "ệ", count: 500)
        #expect(try await push(hub, a, [setOp("dev-a", 1, item: "II.5", field: "fund_source", value: fits)]).applied == 1)
        let error = await refusal { () throws(ProtocolError) in
            try await push(hub, a, [setOp("dev-a", 2, item: "II.5", field: "fund_source", value: fits + "x")])
        }
        #expect(error?.code == .invalidOp)
        #expect(error?.sequence == 2)
        let note = String(repeating: "a", count: 4000)
        #expect(try await push(hub, a, [setOp("dev-a", 2, field: "note", value: note)]).applied == 1)
        let long = await refusal { () throws(ProtocolError) in try await push(hub, a, [setOp("dev-a", 3, field: "note", value: note + "b")]) }
        #expect(long?.code == .invalidOp)
    }

    /// PROTOCOL.md: text values are in Unicode NFC. Swift's `==` on strings compares canonical
    /// equivalence, so `Op.validateShape()`'s `value == Text.nfc(value)` holds for NFD text too.
    @Test func textNotInNFCIsRefused() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        let nfd = "Mu\u{031B}\u{0300}ng"  // "Mừng" decomposed
        #expect(Array(nfd.unicodeScalars) != Array(Text.nfc(nfd).unicodeScalars))
        let error = await refusal { () throws(ProtocolError) in
            try await push(hub, a, [setOp("dev-a", 1, field: "note", value: nfd)])
        }
        #expect(error?.code == .invalidOp)
        #expect(try hub.replica.operationCount() == 0)
    }

    @Test func opsStampedBeyondTheToleranceOrOutsideTheClockRangeAreRefused() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, _) = try setUp(directory)
        let now = hub.replica.clock()
        func op(_ t: Int64, _ c: Int64) -> Op {
            .set(device: "dev-a", sequence: 1, timestamp: ts(t, c, "dev-a"), unit: "muong-lay", item: "II.4", field: "status", value: "done")
        }
        let cases: [(Int64, Int64, ProtocolError.Code)] = [
            (now + HybridLogicalClock.futureTolerance + 1, 0, .clockAhead), (HLCTimestamp.validMillis.upperBound, 0, .clockAhead),
            (HLCTimestamp.validMillis.upperBound + 1, 0, .invalidOp), (.max, 0, .invalidOp), (now, HLCTimestamp.maximumCounter + 1, .invalidOp),
            (now, .max, .invalidOp), (-1, 0, .invalidOp), (now, -1, .invalidOp),
        ]
        for (t, c, code) in cases {
            let error = await refusal { () async throws(ProtocolError) in try await push(hub, a, [op(t, c)]) }
            #expect(error?.code == code && error?.sequence == 1, "t=\(t) c=\(c): \(String(describing: error))")
        }
        #expect(try hub.replica.operationCount() == 0)
        // The hub's own clock stays near true time.
        let resolution = try await hub.resolve(unit: "muong-lay", item: "II.4", field: "status", value: "done", by: "Lò Văn Thắng")
        #expect(abs(resolution.timestamp.millis - now) < 60_000)
        #expect(try await push(hub, a, [op(now + HybridLogicalClock.futureTolerance, HLCTimestamp.maximumCounter)]).applied == 1)
        // Its next decision: the receive carried the counter into the next millisecond, and no further.
        let after = try await hub.resolve(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress", by: "Lò Văn Thắng")
        #expect(after.timestamp == ts(now + HybridLogicalClock.futureTolerance + 1, 1, "hub"), "\(after.timestamp)")
    }

    @Test func retractionsAreScopedByTheUnitOfTheirFinding() async throws {
        let directory = TemporaryDirectory()
        let (hub, a, b) = try setUp(directory)
        let t: Int64 = 1_718_845_320_000
        let add = Op.findingAdd(device: "dev-b", sequence: 1, timestamp: ts(t, 0, "dev-b"), unit: "so-y-te", item: "II.3",
                                kind: .observation, text: "Hồ sơ khen thưởng đầy đủ")
        _ = try await push(hub, b, [add])
        let before = try hub.replica.dataset().canonicalJSON()
        func retract(_ unit: String, _ item: String?, _ finding: String) -> Op {
            .findingRetract(device: "dev-a", sequence: 1, timestamp: ts(t + 5, 0, "dev-a"), unit: unit, item: item, finding: finding, reason: "Nhầm")
        }
        let cases: [(Op, ProtocolError.Code)] = [
            (retract("muong-lay", "II.3", "dev-b/1"), .invalidOp), (retract("muong-lay", nil, "dev-b/1"), .invalidOp),
            (retract("so-y-te", "II.3", "dev-b/1"), .outOfScope), (retract("muong-lay", nil, "dev-b/9"), .unknownFinding),
        ]
        for (op, code) in cases {
            let error = await refusal { () async throws(ProtocolError) in try await push(hub, a, [op]) }
            #expect(error?.code == code && error?.sequence == 1, "\(op): \(String(describing: error))")
        }
        #expect(try hub.replica.dataset().canonicalJSON() == before)
        // dev-b, whose scope holds so-y-te, may retract it, with the finding's unit and item.
        let own = Op.findingRetract(device: "dev-b", sequence: 2, timestamp: ts(t + 6, 0, "dev-b"), unit: "so-y-te", item: "II.3",
                                    finding: "dev-b/1", reason: "Ghi trùng")
        #expect(try await push(hub, b, [own]).applied == 1)
    }

    /// Found by the semantic hub fuzzer: a device's retraction of its own finding may come first (its
    /// batches delivered out of order), but the finding must then be on the retraction's unit and
    /// item; otherwise devices assigned the finding's unit would never receive the retraction shown.
    @Test func aFindingAddedAfterItsOwnRetractionMustBeOnTheRetractionsUnit() async throws {
        let directory = TemporaryDirectory()
        let (hub, _, _) = try setUp(directory)
        _ = try hub.addDevice("dev-c", units: ["muong-ang", "so-y-te"], name: nil)
        let c = try #require(try await hub.device("dev-c"))
        let t: Int64 = 1_718_845_320_000
        // dev-c retracts, on muong-ang, its finding dev-c/2 before pushing it; then pushes it on so-y-te.
        let early = Op.findingRetract(device: "dev-c", sequence: 1, timestamp: ts(t, 0, "dev-c"), unit: "muong-ang", item: nil,
                                      finding: "dev-c/2", reason: "Nhầm")
        #expect(try await push(hub, c, [early]).applied == 1)
        let before = try hub.replica.dataset().canonicalJSON()
        let add = Op.findingAdd(device: "dev-c", sequence: 2, timestamp: ts(t + 1, 0, "dev-c"), unit: "so-y-te", item: "II.3",
                                kind: .observation, text: "Hồ sơ đầy đủ")
        let error = await refusal { () async throws(ProtocolError) in try await push(hub, c, [add]) }
        #expect(error?.code == .invalidOp && error?.sequence == 2 && error?.message.contains("muong-ang") == true, "\(String(describing: error))")
        #expect(try hub.replica.dataset().canonicalJSON() == before)
        // On the retraction's unit, the same finding is taken, and shows retracted.
        let matching = Op.findingAdd(device: "dev-c", sequence: 2, timestamp: ts(t + 1, 0, "dev-c"), unit: "muong-ang", item: "II.3",
                                     kind: .observation, text: "Hồ sơ đầy đủ")
        #expect(try await push(hub, c, [matching]).applied == 1)
        #expect(try hub.replica.dataset().findings.first { $0.id == "dev-c/2" }?.retraction?.value == "Nhầm")
    }
}

@Suite("HubStore: pull")
struct HubStorePullTests {
    @Test func pullExcludesTheDevicesOwnOperationsAndUnitsOutsideItsScope() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try hub.addUnit(Plan.Unit(id: "muong-lay.na-lay", name: "Phường Na Lay", kind: .direct, parent: "muong-lay"))
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        _ = try hub.addDevice("dev-b", units: ["muong-lay.na-lay", "so-y-te"], name: nil)
        let devices = try await hub.devices()
        let (a, b) = (devices[0], devices[1])
        _ = try await hub.push(Message.Push(ops: [setOp("dev-a", 1), setOp("dev-a", 2, unit: "muong-lay.na-lay")]), from: a, scope: hub.scope(of: a))
        _ = try await hub.push(Message.Push(ops: [setOp("dev-b", 1, unit: "so-y-te"), setOp("dev-b", 2, unit: "muong-lay.na-lay"),
                                                  setOp("dev-b", 3, unit: "so-y-te")]),
                               from: b, scope: hub.scope(of: b))
        // The hub's own op (a supervisor's decision), recorded by the hub: only it writes under "hub".
        try await hub.replica.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
        let forA = try await hub.pull(after: 0, limit: 100, for: "dev-a", scope: hub.scope(of: a))
        #expect(forA.ops.map { "\($0.device)#\($0.sequence)" } == ["dev-b#2", "hub#1"], "dev-a's scope holds the sub-unit, not so-y-te")
        #expect(forA.cursor == 6)
        #expect(!forA.more)
        let forB = try await hub.pull(after: 0, limit: 100, for: "dev-b", scope: hub.scope(of: b))
        #expect(forB.ops.map { "\($0.device)#\($0.sequence)" } == ["dev-a#2"], "dev-b's scope is the sub-unit, not its parent")
        #expect(forB.cursor == 6)
    }

    @Test func aFullPageSaysMoreAndCarriesItsLastPosition() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        try hub.replica.merge((1...5).map { setOp("dev-b", $0) } + [setOp("dev-c", 1, unit: "so-y-te")])
        let scope: Set<String> = ["muong-lay"]
        var cursor: Int64 = 0
        var pages: [[Int64]] = []
        var cursors: [Int64] = []
        while true {
            let batch = try await hub.pull(after: cursor, limit: 2, for: "dev-a", scope: scope)
            pages.append(batch.ops.map(\.sequence))
            cursors.append(batch.cursor)
            cursor = batch.cursor
            if !batch.more { break }
        }
        #expect(pages == [[1, 2], [3, 4], [5]])
        #expect(cursors == [2, 4, 6], "the last page carries the end of the log, past the out-of-scope operation")
        let after = try await hub.pull(after: 6, limit: 2, for: "dev-a", scope: scope)
        #expect(after.ops.isEmpty && after.cursor == 6 && !after.more)
    }
}

@Suite("HubStore: bundles")
struct HubStoreBundleTests {
    /// Enrolls a device with the fixed test key of `SigningKeys`.
    static func enroll(_ hub: HubStore, _ device: String, units: [String] = ["muong-lay", "so-y-te"]) async throws {
        let line = try hub.addDevice(device, units: units, name: nil)
        #expect(try await hub.authenticate(device: device, token: line, key: SigningKeys.fingerprint(for: device)) != nil)
    }

    @Test func importingABundleAdvancesTheConfirmedNumbersOfEnrolledDevices() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try await Self.enroll(hub, "dev-a")
        try await Self.enroll(hub, "dev-x")
        let first = [setOp("dev-a", 1), setOp("dev-a", 2, unit: "so-y-te")]
        let result = try await hub.importBundle(SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: first))
        #expect(result.applied == 2)
        #expect(try await hub.confirmed(device: "dev-a") == 2)
        let relayed = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-x", 1), setOp("dev-a", 3)], history: first)
        #expect(try await hub.importBundle(relayed).applied == 2, "a bundle may carry several devices' signed ops")
        #expect(try await hub.confirmed(device: "dev-x") == 1)
        await #expect(try hub.devices().map(\.id) == ["dev-a", "dev-x"], "importing enrolls no one")
        #expect(try hub.chainStatuses()["dev-a"] == HubStore.ChainStatus(from: 1, through: 3), "the verified run grows with each signed head")
    }

    @Test func aRefusedBundleImportsNothing() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try await Self.enroll(hub, "dev-a")
        let bad = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-a", 1), setOp("dev-a", 2, value: "finished")])
        await #expect(throws: CoreError.self) { try await hub.importBundle(bad) }
        let otherPlan = SigningKeys.bundle(plan: "kh-2025", device: "dev-a", ops: [setOp("dev-a", 1)])
        await #expect(throws: ProtocolError.self) { try await hub.importBundle(otherPlan) }
        #expect(try hub.replica.operationCount() == 0)
        try await hub.importTrustedOperations([setOp("dev-a", 1)])
        let conflicting = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-a", 2), setOp("dev-a", 1, value: "in_progress")])
        await #expect(throws: StoreError.self) { try await hub.importBundle(conflicting) }
        #expect(try hub.replica.operationCount() == 1)
    }

    /// Signed by another device's key, by no enrolled device, or by a chain that does not continue
    /// the verified one: refused, nothing imported (PROTOCOL.md 19.4).
    @Test func aBundleSignedByTheWrongKeyImportsNothing() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try await Self.enroll(hub, "dev-a")
        let forged = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-a", 1)], keys: { _ in SigningKeys.key(for: "dev-b") })
        let wrongKey = await #expect(throws: ProtocolError.self) { try await hub.importBundle(forged) }
        #expect(wrongKey?.code == .badSignature)
        #expect(wrongKey?.message.contains(SigningKeys.fingerprint(for: "dev-a").description) == true, "\(wrongKey?.message ?? "")")
        let stranger = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-z", ops: [setOp("dev-z", 1)])
        let unknown = await #expect(throws: ProtocolError.self) { try await hub.importBundle(stranger) }
        #expect(unknown?.code == .unknownAuthor)
        #expect(try hub.replica.operationCount() == 0)

        let first = [setOp("dev-a", 1), setOp("dev-a", 2)]
        try await hub.importBundle(SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: first))
        // Op 3 signed over another history than the one the hub verified through #2: a rewritten past.
        let rewritten = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-a", 3)],
                                           history: [setOp("dev-a", 1), setOp("dev-a", 2, value: "not_started")])
        let fork = await #expect(throws: ProtocolError.self) { try await hub.importBundle(rewritten) }
        #expect(fork?.code == .badSignature)
        #expect(fork?.message.contains("does not continue") == true, "\(fork?.message ?? "")")
        #expect(try hub.replica.operationCount() == 2)
    }

    /// A device that never met the hub proves its enrollment secret in its bundle's head, which
    /// enrolls its key; a wrong or expired secret does not.
    @Test func aBundleEnrollsTheKeyOfADeviceThatNeverSynced() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let line = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let secret = String(line.split(separator: "@")[0])
        func bundle(secret: String) -> BundleFile {
            var bundle = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-a", 1)])
            bundle.heads[0].enrollment = ChainSegment.enrollmentProof(device: "dev-a", key: bundle.heads[0].key,
                                                                      secretDigest: Array(SHA256.hash(data: Data(secret.utf8))))
            return bundle
        }
        let noProof = await #expect(throws: ProtocolError.self) {
            try await hub.importBundle(SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-a", 1)]))
        }
        #expect(noProof?.code == .unknownAuthor)
        let wrong = await #expect(throws: ProtocolError.self) { try await hub.importBundle(bundle(secret: String(repeating: "0", count: 64))) }
        #expect(wrong?.code == .badSignature)
        #expect(try await hub.importBundle(bundle(secret: secret)).applied == 1)
        #expect(try await hub.device("dev-a")?.key == SigningKeys.fingerprint(for: "dev-a"))
        let second = await #expect(throws: ProtocolError.self, "after that, only the enrolled key is admitted") {
            try await hub.authenticate(device: "dev-a", token: line, key: SigningKeys.fingerprint(for: "dev-b"))
        }
        #expect(second?.code == .enrollmentUsed)
    }

    /// A revoked device's bundle, and one whose enrollment secret expired before its key enrolled:
    /// refused with their codes, nothing imported, no key enrolled.
    @Test func aRevokedOrExpiredDevicesBundleImportsNothing() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try await Self.enroll(hub, "dev-a")
        try hub.revokeDevice("dev-a")
        let revoked = await #expect(throws: ProtocolError.self) {
            try await hub.importBundle(SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [setOp("dev-a", 1)]))
        }
        #expect(revoked?.code == .unauthorized && revoked?.message.contains("revoked") == true, "\(revoked?.message ?? "")")

        let line = try hub.addDevice("dev-b", units: ["muong-lay"], name: nil, validity: .seconds(-1))
        var bundle = SigningKeys.bundle(plan: builtInPlan.id, device: "dev-b", ops: [setOp("dev-b", 1)])
        bundle.heads[0].enrollment = ChainSegment.enrollmentProof(device: "dev-b", key: bundle.heads[0].key,
                                                                  secretDigest: Array(SHA256.hash(data: Data(line.split(separator: "@")[0].utf8))))
        let expired = await #expect(throws: ProtocolError.self) { try await hub.importBundle(bundle) }
        #expect(expired?.code == .enrollmentExpired, "\(expired?.message ?? "")")
        #expect(try await hub.device("dev-b")?.key == nil)
        #expect(try hub.replica.operationCount() == 0)
    }

    /// A run that ends at the last sequence number there is, met again: no overflow (found by the
    /// hub-session fuzzer).
    @Test func aRunEndingAtInt64MaxIsMetAgainWithoutATrap() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try await Self.enroll(hub, "dev-a")
        func op(_ sequence: Int64) -> Op {
            .set(device: "dev-a", sequence: sequence, timestamp: ts(1_718_845_320_000, 0, "dev-a"), unit: "muong-lay", item: "II.4", field: "status", value: "done")
        }
        #expect(try await hub.importBundle(SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [op(.max)])).applied == 1)
        #expect(try await hub.importBundle(SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [op(.max)])).duplicates == 1)
        // A run from #max−1 signed over another chain value before it does not pass through the verified head.
        let other = await #expect(throws: ProtocolError.self) {
            try await hub.importBundle(SigningKeys.bundle(plan: builtInPlan.id, device: "dev-a", ops: [op(.max - 1), op(.max)]))
        }
        #expect(other?.code == .badSignature && other?.message.contains("does not pass through") == true, "\(other?.message ?? "")")
        #expect(try hub.chainStatuses()["dev-a"] == HubStore.ChainStatus(from: .max, through: .max))
    }

    @Test func aBundleRoundTripsThroughItsBytes() throws {
        let bundle = try BundleFile.decode(Vectors.data("bundle-valid.bundle"))
        #expect(bundle.encoded() == (try Vectors.data("bundle-valid.bundle")), "the vector is byte for byte what the encoder writes")
    }
}

/// The code of the HubError (or CoreError) thrown by `body`.
func hubErrorCode(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as HubError {
        return error.code.rawValue
    } catch let error as CoreError {
        return error.code.rawValue
    } catch {
        return "\(error)"
    }
}

@Suite("HubStore: enrollment with device keys (PROTOCOL.md 9.8)")
struct HubStoreEnrollmentTests {
    let keyA = TLSIdentity.generate().fingerprint
    let keyB = TLSIdentity.generate().fingerprint

    @Test("the first key to present the secret enrolls; afterwards the key alone admits, and the secret enrolls no other key")
    func oneSecretEnrollsOneKey() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let line = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let secret = try EnrollmentLine(parsing: line).secret
        #expect(try await hub.authenticate(device: "dev-a", token: "wrong", key: keyA) == nil, "a wrong secret enrolls nothing")
        #expect(try await hub.device("dev-a")?.key == nil)
        let enrolled = try await hub.authenticate(device: "dev-a", token: secret, key: keyA)
        #expect(enrolled?.key == keyA && enrolled?.enrolledAt == fixedHubTime)
        #expect(try await hub.device("dev-a")?.key == keyA)
        #expect(try await hub.authenticate(device: "dev-a", token: "", key: keyA)?.id == "dev-a", "the enrolled key needs no secret")
        #expect(try await hub.authenticate(device: "dev-a", token: line, key: keyA)?.id == "dev-a", "the whole line is read as its secret")
        // The same code again, from another key: a copied code or a second replica.
        await #expect(throws: ProtocolError.self) { try await hub.authenticate(device: "dev-a", token: secret, key: keyB) }
        do { _ = try await hub.authenticate(device: "dev-a", token: secret, key: keyB) } catch let error as ProtocolError {
            #expect(error.code == .enrollmentUsed && error.message.contains("re-enroll"))
        }
        #expect(try await hub.authenticate(device: "dev-a", token: "guess", key: keyB) == nil)
        #expect(try await hub.device("dev-a")?.key == keyA, "a refused key changes nothing")
        // Over plain TCP (a lab), a device with a key is refused even with its secret.
        await #expect(throws: ProtocolError.self) { try await hub.authenticate(device: "dev-a", token: secret, key: nil) }
    }

    @Test("a secret expires: refused after its validity with enrollment_expired, accepted up to its last millisecond")
    func secretsExpire() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(fixedHubTime)
        let hub = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan, clock: { clock.now })
        let secret = try EnrollmentLine(parsing: hub.addDevice("dev-a", units: ["muong-lay"], name: nil, validity: .seconds(60))).secret
        let secretB = try EnrollmentLine(parsing: hub.addDevice("dev-b", units: ["muong-lay"], name: nil, validity: .seconds(60))).secret
        #expect(try await hub.device("dev-a")?.enrollmentExpires == fixedHubTime + 60_000)
        clock.now = fixedHubTime + 60_000
        #expect(try await hub.authenticate(device: "dev-b", token: secretB, key: keyB) != nil, "valid through its last millisecond")
        clock.now = fixedHubTime + 60_001
        do {
            _ = try await hub.authenticate(device: "dev-a", token: secret, key: keyA)
            Issue.record("an expired secret enrolled a key")
        } catch let error as ProtocolError {
            #expect(error.code == .enrollmentExpired)
        }
        #expect(try await hub.device("dev-a")?.key == nil)
        #expect(try await hub.authenticate(device: "dev-b", token: "", key: keyB) != nil, "an enrolled key does not expire")
    }

    @Test("re-enrolling forgets the key and the old secret; the new secret enrolls a new key; unknown devices are refused")
    func reenrolling() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let old = try EnrollmentLine(parsing: hub.addDevice("dev-a", units: ["muong-lay"], name: nil)).secret
        _ = try await hub.authenticate(device: "dev-a", token: old, key: keyA)
        let fresh = try EnrollmentLine(parsing: hub.reenrollDevice("dev-a"))
        #expect(fresh.secret != old && fresh.hubKey == hub.identity.fingerprint)
        #expect(try await hub.authenticate(device: "dev-a", token: "", key: keyA) == nil, "the lost phone's key is refused")
        #expect(try await hub.authenticate(device: "dev-a", token: old, key: keyB) == nil, "so is the old secret")
        #expect(try await hub.authenticate(device: "dev-a", token: fresh.secret, key: keyB)?.key == keyB)
        #expect(hubErrorCode { _ = try hub.reenrollDevice("dev-z") } == "unknown_device")
        try hub.revokeDevice("dev-a")
        _ = try hub.reenrollDevice("dev-a")
        #expect(try await hub.device("dev-a")?.isRevoked == true, "re-enrolling does not lift a revocation")
    }

    @Test("the hub key is made once and kept in the file; expiries saturate")
    func migrationMakesAKey() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        let reopened = try HubStore.open(at: directory.path("hub.sqlite"), clock: { fixedHubTime })
        #expect(reopened.identity.fingerprint == hub.identity.fingerprint, "the key is made once and kept in the file")
        #expect(HubStore.expiry(from: 0, after: .seconds(Int64.max)) == .max, "an expiry saturates")
        #expect(HubStore.expiry(from: .max - 1, after: .seconds(1)) == .max)
        #expect(HubStore.expiry(from: 1_000, after: .milliseconds(1_500)) == 2_500)
    }
}

/// A clock a test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64
    init(_ value: Int64) { self.value = value }
    var now: Int64 {
        get { lock.lock(); defer { lock.unlock() }; return value }
        set { lock.lock(); value = newValue; lock.unlock() }
    }
}

@Suite("HubStore: signed pushes (PROTOCOL.md 19.3)")
struct HubStoreSignedPushTests {
    /// A device with an enrolled key pushes a signed head; a missing head, one of another device or
    /// signed by another key, or one that rewrites the verified run, is refused and stores nothing.
    @Test func aPushMustCarryItsDevicesSignedHead() async throws {
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        try await HubStoreBundleTests.enroll(hub, "dev-a", units: ["muong-lay"])
        let device = try #require(try await hub.device("dev-a"))
        let scope = hub.scope(of: device)
        func refusal(_ push: Message.Push) async -> ProtocolError? {
            do { _ = try await hub.push(push, from: device, scope: scope); return nil } catch { return error }
        }
        let ops = [setOp("dev-a", 1), setOp("dev-a", 2)]
        let missing = await refusal(Message.Push(ops: ops))
        #expect(missing?.code == .badSignature && missing?.sequence == nil && missing?.message.contains("must carry") == true, "\(missing?.message ?? "")")
        let otherDevice = await refusal(Message.Push(ops: ops, head: SigningKeys.heads(for: [setOp("dev-b", 1)])[0]))
        #expect(otherDevice?.code == .badSignature && otherDevice?.message.contains("not of this session's") == true, "\(otherDevice?.message ?? "")")
        let otherKey = await refusal(Message.Push(ops: ops, head: SigningKeys.heads(for: ops, keys: { _ in SigningKeys.key(for: "dev-b") })[0]))
        #expect(otherKey?.code == .badSignature && otherKey?.message.contains("not by the device's enrolled key") == true, "\(otherKey?.message ?? "")")
        var altered = ops
        altered[1].value = "in_progress"
        let alteredOp = await refusal(Message.Push(ops: altered, head: SigningKeys.heads(for: ops)[0]))
        #expect(alteredOp?.code == .badSignature, "\(alteredOp?.message ?? "")")
        #expect(try hub.replica.operationCount() == 0, "a refused push stores nothing")

        let pushed = try await hub.push(Message.Push(ops: ops, head: SigningKeys.heads(for: ops)[0]), from: device, scope: scope)
        #expect(pushed.confirmed == 2)
        // #3 signed over a history whose #2 differs from the one the hub verified.
        let rewritten = await refusal(Message.Push(ops: [setOp("dev-a", 3)],
                                                   head: SigningKeys.heads(for: [setOp("dev-a", 3)], history: [ops[0], altered[1]])[0]))
        #expect(rewritten?.code == .badSignature && rewritten?.message.contains("does not continue") == true, "\(rewritten?.message ?? "")")
        #expect(try hub.replica.operationCount() == 2)
        #expect(try hub.chainStatuses()["dev-a"] == HubStore.ChainStatus(from: 1, through: 2))
    }
}

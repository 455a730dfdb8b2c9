import InspectorCore
import Testing

/// The receiving rules on one op (`Op+Receiving.swift`): the future tolerance and retraction references.
@Suite struct OpReceivingTests {
    static let now: Int64 = 1_718_845_320_000

    func set(_ millis: Int64, _ counter: Int64) -> Op {
        .set(device: "dev-b", sequence: 4, timestamp: ts(millis, counter, "dev-b"), unit: "muong-lay", item: "II.4", field: "status", value: "done")
    }

    func code(_ body: () throws(CoreError) -> Void) -> CoreError.Code? {
        do { try body(); return nil } catch { return error.code }
    }

    @Test func anOpUpToTheToleranceAheadPassesAndOneBeyondIsRefused() {
        let edge = Self.now + HybridLogicalClock.futureTolerance
        for (millis, counter) in [(Self.now - 86_400_000, 0), (Self.now, HLCTimestamp.maximumCounter), (edge - 1, HLCTimestamp.maximumCounter),
                                  (edge, 0), (edge, HLCTimestamp.maximumCounter)] as [(Int64, Int64)] {
            #expect(code { () throws(CoreError) in try set(millis, counter).checkNotAhead(of: Self.now) } == nil, "\(millis) \(counter)")
        }
        for (millis, counter) in [(edge + 1, 0), (HLCTimestamp.validMillis.upperBound, 0)] as [(Int64, Int64)] {
            #expect(code { () throws(CoreError) in try set(millis, counter).checkNotAhead(of: Self.now) } == .clockAhead, "\(millis) \(counter)")
        }
        // The message names the op and the receiver's clock.
        do {
            try set(edge + 1, 0).checkNotAhead(of: Self.now)
        } catch {
            #expect(error.message.contains("dev-b#4") && error.message.contains("2024-06-20T01:02:00.000Z"), "\(error.message)")
        }
    }

    @Test func theToleranceCheckNeverTrapsAtTheClocksBounds() {
        // A receiver's clock at either end of the range (a device years off, a hostile offset).
        for now: Int64 in [.min, -1, 0, HLCTimestamp.validMillis.upperBound, .max] {
            for millis in [HLCTimestamp.validMillis.lowerBound, HLCTimestamp.validMillis.upperBound] {
                _ = code { () throws(CoreError) in try set(millis, HLCTimestamp.maximumCounter).checkNotAhead(of: now) }
            }
        }
        #expect(code { () throws(CoreError) in try set(0, 0).checkNotAhead(of: .max) } == nil)
        #expect(code { () throws(CoreError) in try set(HLCTimestamp.validMillis.upperBound, 0).checkNotAhead(of: .min) } == .clockAhead)
    }

    func retract(unit: String, item: String?, finding: String = "dev-a/3", device: String = "dev-b") -> Op {
        .findingRetract(device: device, sequence: 2, timestamp: ts(Self.now, 0, device), unit: unit, item: item, finding: finding, reason: "Ghi trùng")
    }

    @Test func aRetractionMustCarryTheUnitAndItemOfItsFinding() {
        let target = FindingLocation(unit: "so-y-te", item: "II.3")
        #expect(code { () throws(CoreError) in try retract(unit: "so-y-te", item: "II.3").checkReference(of: target) } == nil)
        #expect(code { () throws(CoreError) in try retract(unit: "so-y-te", item: nil).checkReference(of: target) } == nil, "the item is optional")
        #expect(code { () throws(CoreError) in try retract(unit: "muong-lay", item: "II.3").checkReference(of: target) } == .retractionMismatch)
        #expect(code { () throws(CoreError) in try retract(unit: "so-y-te", item: "II.4").checkReference(of: target) } == .retractionMismatch)
        #expect(code { () throws(CoreError) in try retract(unit: "so-y-te", item: "II.3").checkReference(of: FindingLocation(unit: "so-y-te", item: nil)) } == .retractionMismatch)
        #expect(code { () throws(CoreError) in try retract(unit: "so-y-te", item: "II.3").checkReference(of: nil) } == .unknownFinding)
        // Other kinds name no finding: nothing to check.
        #expect(code { () throws(CoreError) in try set(Self.now, 0).checkReference(of: nil) } == nil)
    }

    @Test func whoseFindingARetractionNamesAndWhatAnAddCreates() {
        #expect(retract(unit: "so-y-te", item: nil, finding: "dev-b/1").referencesOwnFinding)
        #expect(!retract(unit: "so-y-te", item: nil, finding: "dev-bb/1").referencesOwnFinding, "a prefix of another id is not the author's")
        #expect(!retract(unit: "so-y-te", item: nil, finding: "dev-a/1").referencesOwnFinding)
        #expect(retract(unit: "so-y-te", item: nil).referencedFinding == "dev-a/3")
        #expect(set(Self.now, 0).referencedFinding == nil && set(Self.now, 0).addedFinding == nil)
        let add = Op.findingAdd(device: "dev-a", sequence: 3, timestamp: ts(Self.now, 0, "dev-a"), unit: "so-y-te", item: "II.3",
                                kind: .observation, text: "Hồ sơ đầy đủ")
        #expect(add.addedFinding?.id == "dev-a/3" && add.addedFinding?.location == FindingLocation(unit: "so-y-te", item: "II.3"))
    }
}

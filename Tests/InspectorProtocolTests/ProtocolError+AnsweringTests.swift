import InspectorCore
import InspectorProtocol
import Testing

/// `ProtocolError(answering:sequence:)`: the one place where an error of any layer becomes a wire error.
@Suite struct ProtocolErrorAnsweringTests {
    struct Other: InspectorError {
        var code: ErrorCode
        var message: String
    }

    struct NotOurs: Error {}

    @Test(arguments: [ErrorCode.clockAhead, .unknownFinding, .outOfScope, .conflictingOp, .foreignDevice])
    func rulesTheWireNamesKeepTheirCode(code: ErrorCode) {
        let answer = ProtocolError(answering: Other(code: code, message: "why"), sequence: 7)
        #expect(answer == ProtocolError(code, "why", sequence: 7))
        #expect(answer.code.isWire)
    }

    @Test(arguments: [ErrorCode.unknownUnit, .unknownItem, .unknownField, .invalidValue, .unknownFindingKind, .invalidText,
                      .invalidDeviceID, .malformedOperation, .retractionMismatch, .ownOperation])
    func rulesOfThePlanAndOfAnOpsShapeAreInvalidOp(code: ErrorCode) {
        let answer = ProtocolError(answering: CoreError(code, "unknown item 'II.9'"), sequence: 3)
        #expect(answer == ProtocolError(.invalidOp, "operation 3 refused: unknown item 'II.9'", sequence: 3))
    }

    @Test func aStoreThatCannotWriteIsStorageFailedWithoutItsDetail() {
        let answer = ProtocolError(answering: Other(code: .storageFailed, message: "disk I/O error in /srv/hub.sqlite"))
        #expect(answer.code == .storageFailed && answer.sequence == nil)
        #expect(!answer.message.contains("/srv/hub.sqlite"), "the hub's paths stay at the hub")
    }

    @Test func anythingElseIsInternalAndAProtocolErrorStaysItself() {
        #expect(ProtocolError(answering: NotOurs()).code == .internal)
        #expect(ProtocolError(answering: Other(code: .notAHub, message: "x")).code == .internal)
        let original = ProtocolError(.batchTooLarge, "a push may hold at most 2000 operations")
        #expect(ProtocolError(answering: original) == original)
        #expect(ProtocolError(answering: ProtocolError(.invalidOp, "x"), sequence: 4).sequence == 4)
        for code in ErrorCode.all {
            #expect(ProtocolError(answering: Other(code: code, message: "m"), sequence: 1).code.isWire, "\(code) does not reach the wire as a wire code")
        }
    }
}

import InspectorCore

extension ProtocolError {
    /// The rules of the plan and of an op's shape, reported on the wire as `invalid_op`.
    static let answeredAsInvalidOp: Set<ErrorCode> = [
        .unknownUnit, .unknownItem, .unknownField, .invalidValue, .unknownFindingKind, .invalidText, .invalidDeviceID,
        .malformedOperation, .retractionMismatch, .ownOperation, .invalidOp,
    ]

    /// The error line a hub sends for `error`, raised while it handled a request (and, for one
    /// operation of a push, `sequence`, so that the device can set it aside): the one place where any
    /// layer's error becomes a wire error.
    ///
    /// A ``ProtocolError`` stays itself. Any other ``InspectorCore/InspectorError`` becomes `invalid_op`
    /// for a rule of the plan or of an op's shape, `storage_failed` (without the store's detail) when
    /// the store could not do the work, keeps its code when that code is a wire code (`clock_ahead`,
    /// `out_of_scope`, `conflicting_op`…), and is `internal` otherwise. The message never carries more than the original error's message.
    public init(answering error: any Error, sequence: Int64? = nil) {
        if var error = error as? ProtocolError {
            if error.sequence == nil { error.sequence = sequence }
            self = error
            return
        }
        guard let error = error as? any InspectorError else {
            self.init(.internal, "the hub could not do that; it keeps serving")
            return
        }
        let about = sequence.map { "operation \($0)" } ?? "the request"
        switch error.code {
        case let code where Self.answeredAsInvalidOp.contains(code):
            self.init(.invalidOp, "\(about) refused: \(error.message)", sequence: sequence)
        case .storageFailed:
            self.init(.storageFailed, "the hub's storage could not do the work; nothing was acknowledged")
        case let code where code.isWire:
            self.init(code, error.message, sequence: sequence)
        default:
            self.init(.internal, "the hub could not do that (\(error.code)); it keeps serving")
        }
    }
}

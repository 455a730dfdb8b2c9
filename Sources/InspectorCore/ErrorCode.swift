/// A stable error code: the one registry of every condition InspectorSync reports, whichever layer
/// reports it. One condition has one code (an op that differs from the one held under its number is
/// `conflicting_op` in the store, on the wire and in a device's held-back list); codes never change
/// meaning once released. ``all`` lists them; ``wire`` those a hub may send in an `error` line
/// (`Protocol/PROTOCOL.md` section 13).
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    // MARK: The plan and operations (InspectorCore)

    /// The plan file is not valid JSON or does not follow the plan format.
    public static let malformedPlan = ErrorCode(rawValue: "malformed_plan")
    /// A unit id that the plan (or the hub) does not know.
    public static let unknownUnit = ErrorCode(rawValue: "unknown_unit")
    /// A checklist item id that the plan does not know.
    public static let unknownItem = ErrorCode(rawValue: "unknown_item")
    /// A field id that the item does not have.
    public static let unknownField = ErrorCode(rawValue: "unknown_field")
    /// A value that does not fit the field's type or limits.
    public static let invalidValue = ErrorCode(rawValue: "invalid_value")
    /// A finding kind outside the closed set.
    public static let unknownFindingKind = ErrorCode(rawValue: "unknown_finding_kind")
    /// Text that is empty or too long.
    public static let invalidText = ErrorCode(rawValue: "invalid_text")
    /// A device id that does not follow the id syntax, or is reserved.
    public static let invalidDeviceID = ErrorCode(rawValue: "invalid_device_id")
    /// An operation whose parts do not fit its kind.
    public static let malformedOperation = ErrorCode(rawValue: "malformed_operation")
    /// An operation stamped further ahead of the receiver's clock than the tolerance (PROTOCOL.md 7.4).
    public static let clockAhead = ErrorCode(rawValue: "clock_ahead")
    /// A retraction naming a finding the receiver does not hold.
    public static let unknownFinding = ErrorCode(rawValue: "unknown_finding")
    /// A retraction whose unit or item is not those of the finding it retracts.
    public static let retractionMismatch = ErrorCode(rawValue: "retraction_mismatch")
    /// An operation under the receiver's own id that the receiver never recorded: a replica is the
    /// only writer of its own sequence, so such an op is forged (or from a lost copy of the replica).
    public static let ownOperation = ErrorCode(rawValue: "own_operation")

    // MARK: The store (InspectorStore)

    /// The file is not an InspectorSync replica, or was made by a newer version.
    public static let notAReplica = ErrorCode(rawValue: "not_a_replica")
    /// A replica already exists at that path.
    public static let alreadyExists = ErrorCode(rawValue: "already_exists")
    /// The file does not exist.
    public static let notFound = ErrorCode(rawValue: "not_found")
    /// A different operation is already held under this (device, sequence number), or a batch holds
    /// two different ones under it.
    public static let conflictingOp = ErrorCode(rawValue: "conflicting_op")
    /// The unit is outside the device's assigned scope.
    public static let outOfScope = ErrorCode(rawValue: "out_of_scope")
    /// The replica's clock cannot stamp a later timestamp (it stands at the end of the valid range).
    public static let clockExhausted = ErrorCode(rawValue: "clock_exhausted")
    /// The replica's log holds the last possible sequence number for its own device id.
    public static let sequenceExhausted = ErrorCode(rawValue: "sequence_exhausted")
    /// The storage could not do the work (disk full, I/O error, a damaged file…); nothing was written.
    public static let storageFailed = ErrorCode(rawValue: "storage_failed")
    /// A caller's argument that the store cannot take (an empty address, a change the role forbids).
    public static let invalidArgument = ErrorCode(rawValue: "invalid_argument")

    // MARK: The wire (InspectorProtocol); PROTOCOL.md 13

    /// The line is not UTF-8, has no verb, or its JSON cannot be read.
    public static let badLine = ErrorCode(rawValue: "bad_line")
    /// The line is longer than the limit in force.
    public static let lineTooLong = ErrorCode(rawValue: "line_too_long")
    /// The verb is not one this version knows.
    public static let unknownVerb = ErrorCode(rawValue: "unknown_verb")
    /// The JSON lacks a key or has a wrong type.
    public static let badMessage = ErrorCode(rawValue: "bad_message")
    /// The peer speaks a protocol version this side does not.
    public static let unsupportedVersion = ErrorCode(rawValue: "unsupported_version")
    /// The token is wrong, or the device is revoked or unknown.
    public static let unauthorized = ErrorCode(rawValue: "unauthorized")
    /// A message other than `hello` before the handshake, or a second `hello`.
    public static let notAuthenticated = ErrorCode(rawValue: "not_authenticated")
    /// An operation in a push carries another device's id.
    public static let foreignDevice = ErrorCode(rawValue: "foreign_device")
    /// An operation that the plan refuses (unknown item or field, invalid value…), as the hub answers it.
    public static let invalidOp = ErrorCode(rawValue: "invalid_op")
    /// A push with more operations than the batch cap (the line limit caps its bytes).
    public static let batchTooLarge = ErrorCode(rawValue: "batch_too_large")
    /// The connection was idle, or did not authenticate, for too long.
    public static let timeout = ErrorCode(rawValue: "timeout")
    /// A bundle file is cut, altered or malformed.
    public static let badBundle = ErrorCode(rawValue: "bad_bundle")
    /// The peer speaks plain TCP or an older protocol to a hub that requires TLS and protocol 2: the
    /// device's software must be upgraded (PROTOCOL.md 2).
    public static let upgradeRequired = ErrorCode(rawValue: "upgrade_required")
    /// The enrollment code was already used by a device with another key (a copied code, or a second
    /// replica); the hub's operator re-enrolls the device to issue a new one.
    public static let enrollmentUsed = ErrorCode(rawValue: "enrollment_used")
    /// The enrollment code's validity (7 days by default) has passed before it was used.
    public static let enrollmentExpired = ErrorCode(rawValue: "enrollment_expired")
    /// A push or bundle whose operations do not verify against their author's signed chain head:
    /// an operation altered, dropped, reordered or forged, or a signature that is not the author's
    /// (PROTOCOL.md 19).
    public static let badSignature = ErrorCode(rawValue: "bad_signature")
    /// Anything else at the hub (it could not read its store); the hub keeps serving.
    public static let `internal` = ErrorCode(rawValue: "internal")

    // MARK: The hub's administration (InspectorHub)

    /// No device with that id is enrolled.
    public static let unknownDevice = ErrorCode(rawValue: "unknown_device")
    /// A device with that id is already enrolled.
    public static let deviceExists = ErrorCode(rawValue: "device_exists")
    /// The units given to a device are empty or unknown.
    public static let invalidUnits = ErrorCode(rawValue: "invalid_units")
    /// The export folder cannot be written.
    public static let exportFailed = ErrorCode(rawValue: "export_failed")
    /// The file is a device's replica, not a hub.
    public static let notAHub = ErrorCode(rawValue: "not_a_hub")

    // MARK: A device's sync (InspectorSyncClient); PROTOCOL.md 13.1

    /// The replica has no hub address or token; run `inspector init … --hub --token`.
    public static let notConfigured = ErrorCode(rawValue: "not_configured")
    /// The hub could not be reached, or the connection broke; what was confirmed is kept.
    public static let connectionFailed = ErrorCode(rawValue: "connection_failed")
    /// The hub refused the handshake or a request; the error keeps the hub's code.
    public static let refusedByHub = ErrorCode(rawValue: "refused_by_hub")
    /// The hub holds more of this device's operations than the replica: it was re-created or restored.
    public static let replicaBehindHub = ErrorCode(rawValue: "replica_behind_hub")
    /// The hub answered something the protocol does not allow there.
    public static let protocolViolation = ErrorCode(rawValue: "protocol_violation")
    /// The hub presented a key other than the one this device pinned at enrollment; nothing of the
    /// device's credentials was sent.
    public static let hubKeyMismatch = ErrorCode(rawValue: "hub_key_mismatch")
    /// The TLS handshake failed for another reason than the pinned key (the peer is not an
    /// InspectorSync hub, or refused this device's certificate).
    public static let tlsFailed = ErrorCode(rawValue: "tls_failed")

    // MARK: Keys and enrollment codes (InspectorProtocol, InspectorTLS)

    /// A key file, key fingerprint, enrollment line or enrollment code that cannot be read.
    public static let badKey = ErrorCode(rawValue: "bad_key")
    /// A bundle carries operations of a device whose key this replica does not know, so it cannot
    /// check them (PROTOCOL.md 19.4).
    public static let unknownAuthor = ErrorCode(rawValue: "unknown_author")
    /// A file over the per-file limit of attachments, or a device over its budget of them (PROTOCOL.md 20).
    public static let attachmentTooLarge = ErrorCode(rawValue: "attachment_too_large")
    /// A file whose content is none of the accepted types of attachment (photos, scans, PDFs).
    public static let unsupportedAttachment = ErrorCode(rawValue: "unsupported_attachment")
    /// An `offer` or `chunk` for a file that no `attachment_add` op of the device names (PROTOCOL.md 20).
    public static let unknownAttachment = ErrorCode(rawValue: "unknown_attachment")
    /// A `chunk` at another offset than the hub holds, empty, too long, not base64url or past the file's size.
    public static let badChunk = ErrorCode(rawValue: "bad_chunk")
    /// A whole file whose SHA-256 is not the hash it was offered under; the hub discarded it.
    public static let hashMismatch = ErrorCode(rawValue: "hash_mismatch")

    // MARK: The office's dashboard (InspectorDashboard, InspectorHub's office accounts)

    /// A name and password that do not match an office account (the dashboard does not say which was wrong).
    public static let signInFailed = ErrorCode(rawValue: "sign_in_failed")
    /// Too many failed sign-ins for an account or from an address: wait before the next attempt.
    public static let signInThrottled = ErrorCode(rawValue: "sign_in_throttled")
    /// No valid sign-in session: sign in first.
    public static let notSignedIn = ErrorCode(rawValue: "not_signed_in")
    /// The account's role does not allow this (a viewer's decision).
    public static let forbidden = ErrorCode(rawValue: "forbidden")
    /// A form without the session's anti-forgery token, or with another one.
    public static let csrfFailed = ErrorCode(rawValue: "csrf_failed")

    /// Every code, in the order above.
    public static let all: [ErrorCode] = [
        .malformedPlan, .unknownUnit, .unknownItem, .unknownField, .invalidValue, .unknownFindingKind, .invalidText,
        .invalidDeviceID, .malformedOperation, .clockAhead, .unknownFinding, .retractionMismatch, .ownOperation,
        .notAReplica, .alreadyExists, .notFound, .conflictingOp, .outOfScope, .clockExhausted, .sequenceExhausted,
        .storageFailed, .invalidArgument,
        .badLine, .lineTooLong, .unknownVerb, .badMessage, .unsupportedVersion, .unauthorized, .notAuthenticated,
        .foreignDevice, .invalidOp, .batchTooLarge, .timeout, .badBundle, .upgradeRequired, .enrollmentUsed,
        .enrollmentExpired, .badSignature, .internal,
        .unknownDevice, .deviceExists, .invalidUnits, .exportFailed, .notAHub,
        .notConfigured, .connectionFailed, .refusedByHub, .replicaBehindHub, .protocolViolation, .hubKeyMismatch,
        .tlsFailed, .badKey, .unknownAuthor,
        .attachmentTooLarge, .unsupportedAttachment, .unknownAttachment, .badChunk, .hashMismatch,
        .signInFailed, .signInThrottled, .notSignedIn, .forbidden, .csrfFailed,
    ]

    /// The codes a hub may send in an `error` line (PROTOCOL.md 13; `bad_bundle` is listed there but
    /// never sent). Any other condition reaches the wire as one of these.
    public static let wire: Set<ErrorCode> = [
        .badLine, .lineTooLong, .unknownVerb, .badMessage, .unsupportedVersion, .unauthorized, .notAuthenticated,
        .foreignDevice, .outOfScope, .invalidOp, .clockAhead, .unknownFinding, .conflictingOp, .batchTooLarge,
        .storageFailed, .timeout, .upgradeRequired, .enrollmentUsed, .enrollmentExpired, .badSignature, .internal,
        .attachmentTooLarge, .unknownAttachment, .badChunk, .hashMismatch,
    ]

    /// Whether a hub may send this code in an `error` line.
    public var isWire: Bool { Self.wire.contains(self) }
}

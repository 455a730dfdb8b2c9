import Foundation
import GRDB
import InspectorCore
import InspectorProtocol
import InspectorStore

// Signed operation chains at the hub (PROTOCOL.md 19): which key may sign for which device, and how
// far each device's log is verified.

extension HubStore {
    /// How far the hub has verified a device's log against the device's signed chain heads.
    public struct ChainStatus: Hashable, Sendable {
        /// The first sequence number of the verified run.
        public var from: Int64
        /// The last: the number of the latest signed head the hub checked.
        public var through: Int64
        /// Whether the whole log up to `through` is verified: the run starts at the device's first op.
        public var isComplete: Bool { from == 1 }

        public init(from: Int64, through: Int64) {
            self.from = from
            self.through = through
        }
    }

    /// The key fingerprints the hub hands to devices in its `welcome` (19.4): every device that has
    /// enrolled a key and is not revoked, and the hub's own, under `hub`.
    public func authorKeys() async throws -> [String: String] {
        let hubKey = identity.fingerprint.description
        return try await replica.read { db in
            var keys = [Self.deviceID: hubKey]
            for row in try Row.fetchAll(db, sql: "SELECT id, device_key FROM devices WHERE device_key IS NOT NULL AND revoked = 0") {
                keys[row[0]] = row[1]
            }
            return keys
        }
    }

    /// Checks that each segment is signed by its device's key (a device that has not enrolled one
    /// may prove its enrollment secret, 19.4), inside the transaction that stores the segment's ops,
    /// and records the segments.
    ///
    /// - Parameter recording: false to check only (a read before the import's transaction, so that a
    ///   wrong key is named before anything else the import would refuse).
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_signature` for another key or a chain that
    ///   does not continue the one the hub verified; `unknown_author` for a device the hub cannot
    ///   check; `unauthorized` for a revoked device. Nothing is stored then.
    static func acceptSegments(_ db: Database, _ segments: [ChainSegment], carrying ops: [Op], hubKey: KeyFingerprint, now: Int64,
                               recording: Bool = true) throws {
        for segment in segments {
            if segment.device == deviceID {
                guard segment.fingerprint == hubKey else {
                    throw ProtocolError(.badSignature, "the operations of the hub are signed by the key \(segment.fingerprint), not the hub's \(hubKey)")
                }
                continue
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT device_key, token_hash, revoked, enrollment_expires FROM devices WHERE id = ?",
                                             arguments: [segment.device]) else {
                throw ProtocolError(.unknownAuthor, "operations of device '\(segment.device.excerpt(70))', which is not enrolled at this hub: its key is unknown")
            }
            guard !(row["revoked"] as Bool) else {
                throw ProtocolError(.unauthorized, "operations of device '\(segment.device.excerpt(70))', which is revoked: the hub takes nothing more from it")
            }
            if let enrolled: String = row["device_key"] {
                guard enrolled == segment.fingerprint.description else {
                    throw ProtocolError(.badSignature, "the operations of '\(segment.device.excerpt(70))' are signed by the key \(segment.fingerprint), not by its enrolled key \(enrolled)")
                }
            } else {
                try enroll(db, segment, row: row, now: now, recording: recording)
            }
            if recording { try record(db, segment, carrying: ops) }
        }
    }

    /// Enrolls the key of a bundle's segment on the proof that its device holds the enrollment secret.
    private static func enroll(_ db: Database, _ segment: ChainSegment, row: Row, now: Int64, recording: Bool) throws {
        let name = segment.device.excerpt(70)
        guard let proof = segment.enrollment else {
            throw ProtocolError(.unknownAuthor, "device '\(name)' has not enrolled a key yet and its signed head carries no enrollment proof: sync it with the hub once, or export the bundle again with this release")
        }
        let tokenHash: String = row["token_hash"]
        // The hub keeps the secret's SHA-256 as hex: the proof's key is those 32 bytes.
        let hex = Array(tokenHash.utf8)
        let secretDigest = stride(from: 0, to: hex.count - 1, by: 2).map { UInt8(nibble(hex[$0]) << 4 | nibble(hex[$0 + 1])) }
        let expected = ChainSegment.enrollmentProof(device: segment.device, key: segment.key, secretDigest: secretDigest)
        guard constantTimeEqual(expected, proof) else {
            throw ProtocolError(.badSignature, "the enrollment proof of '\(name)' does not match its enrollment secret: the device was re-enrolled, or the bundle was forged")
        }
        if let expires: Int64 = row["enrollment_expires"], now > expires {
            throw ProtocolError(.enrollmentExpired, "the enrollment secret of '\(name)' expired at \(ISOTime.format(millis: expires)) before its key enrolled; re-enroll the device")
        }
        guard recording else { return }
        try db.execute(sql: "UPDATE devices SET device_key = ?, enrolled_at = ? WHERE id = ? AND device_key IS NULL",
                       arguments: [segment.fingerprint.description, now, segment.device])
    }

    /// Moves the device's verified run forward with a segment whose signature and key were checked.
    ///
    /// A segment that starts right after the verified run must start from its head; one that
    /// overlaps the run's end must pass through the same head; one that starts beyond it starts a
    /// new run (the hub keeps one run per device: the latest).
    private static func record(_ db: Database, _ segment: ChainSegment, carrying ops: [Op]) throws {
        let row = try Row.fetchOne(db, sql: "SELECT chain_from, chain_through, chain_head FROM devices WHERE id = ?", arguments: [segment.device])
        let runFrom: Int64? = row?["chain_from"]
        let runThrough: Int64 = row?["chain_through"] ?? 0
        let runHead: [UInt8]? = (row?["chain_head"] as Data?).map { Array($0) }
        let name = segment.device.excerpt(70)
        var from = runFrom ?? segment.from
        if let runHead, runThrough >= 1 {
            // `from − 1` never overflows (a verified segment has `from` ≥ 1); `through + 1` may.
            if segment.from - 1 == runThrough {
                guard segment.previous.bytes == runHead else {
                    throw ProtocolError(.badSignature, "the signed chain of '\(name)' from #\(segment.from) does not continue the one the hub verified through #\(runThrough): an earlier operation was altered or replaced")
                }
            } else if segment.from - 1 > runThrough {
                from = segment.from
            } else if segment.through >= runThrough {
                // Overlapping the run's end: it must pass through the head the hub verified.
                guard segment.value(at: runThrough, carrying: ops)?.bytes == runHead else {
                    throw ProtocolError(.badSignature, "the signed chain of '\(name)' does not pass through the head #\(runThrough) the hub verified: an earlier operation was altered or replaced")
                }
            } else {
                return  // within the run: nothing new to record
            }
        }
        guard segment.through > runThrough else { return }
        try db.execute(sql: "UPDATE devices SET chain_from = ?, chain_through = ?, chain_head = ?, chain_signature = ? WHERE id = ?",
                       arguments: [from, segment.through, Data(segment.head.bytes), Data(segment.signature), segment.device])
    }

    private static func nibble(_ digit: UInt8) -> UInt8 {
        digit >= UInt8(ascii: "a") ? digit - UInt8(ascii: "a") + 10 : digit &- UInt8(ascii: "0")
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The verified run of each device, by id.
    public func chainStatuses() throws -> [String: ChainStatus] {
        try replica.read { db in
            var statuses: [String: ChainStatus] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, chain_from, chain_through FROM devices WHERE chain_through > 0") {
                statuses[row[0]] = ChainStatus(from: row[1] ?? 1, through: row[2])
            }
            return statuses
        }
    }
}

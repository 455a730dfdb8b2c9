import Foundation
import GRDB
import InspectorCore
import InspectorProtocol
import InspectorStore
import InspectorTLS

extension HubStore {
    /// An enrolled device as the hub sees it.
    public struct Device: Hashable, Sendable {
        public var id: String
        public var name: String?
        public var units: [String]
        public var isRevoked: Bool
        /// The highest sequence number such that the hub holds it and every one before it.
        public var confirmed: Int64
        /// Hub wall clock at the end of the last handshake, ms.
        public var lastSync: Int64?
        /// Device clock minus hub clock at the last handshake, ms (estimated one-way).
        public var clockOffset: Int64?
        /// The key the device enrolled with over TLS; nil until its first TLS handshake.
        public var key: KeyFingerprint?
        /// When the device enrolled its key (hub clock, ms).
        public var enrolledAt: Int64?
        /// Until when its enrollment secret may enroll a key (hub clock, ms); nil: no limit.
        public var enrollmentExpires: Int64?
        /// How far the hub verified the device's log against its signed chain heads; nil: not at all.
        public var chain: ChainStatus?
    }

    /// Enrolls a device for some units and returns its enrollment line, `SECRET@sha256:…`: its
    /// single-use enrollment secret and the fingerprint of the hub's key (shown once; the hub keeps
    /// only a hash of the secret). The secret enrolls the first key that presents it within
    /// `validity`, and nothing after that.
    ///
    /// - Throws: ``HubError`` `device_exists`, `invalid_units`; ``InspectorCore/CoreError`` for a bad id.
    public func addDevice(_ id: String, units: [String], name: String?, validity: Duration = HubStore.defaultEnrollmentValidity) throws -> String {
        try Identifier.validateDevice(id)
        guard id != Self.deviceID else { throw HubError(.deviceExists, "'hub' is reserved for the hub itself") }
        let known = Set(replica.units.map(\.id))
        guard !units.isEmpty else { throw HubError(.invalidUnits, "give the device at least one unit (--units U1,U2)") }
        for unit in units where !known.contains(unit) {
            throw HubError(.invalidUnits, "unknown unit '\(unit.excerpt(70))'; units are: \(replica.units.map(\.id).joined(separator: ", "))")
        }
        let token = Self.makeToken()
        let normalizedName = try name.map { try Text.validated($0, what: "holder's name", maximumLength: 200) }
        let unitsJSON = String(decoding: try JSONEncoder().encode(units), as: UTF8.self)
        let expires = Self.expiry(from: replica.clock(), after: validity)
        try replica.write { db in
            let exists = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?)", arguments: [id]) ?? false
            guard !exists else { throw HubError(.deviceExists, "device '\(id)' is already enrolled") }
            try db.execute(sql: "INSERT INTO devices (id, name, token_hash, units, enrollment_expires) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, normalizedName, Self.hash(token: token), unitsJSON, expires])
        }
        return EnrollmentLine(secret: token, hubKey: identity.fingerprint).description
    }

    /// Issues a new enrollment line for an enrolled device (a lost or replaced phone, a code that
    /// expired unused): the device's key and its old secret are forgotten, so the old phone is
    /// refused from its next connection, and the first key to present the new secret enrolls.
    /// The device keeps its id, units and everything it synced; a revoked device stays revoked.
    ///
    /// - Throws: ``HubError`` `unknown_device`.
    public func reenrollDevice(_ id: String, validity: Duration = HubStore.defaultEnrollmentValidity) throws -> String {
        let token = Self.makeToken()
        let expires = Self.expiry(from: replica.clock(), after: validity)
        try replica.write { db in
            try db.execute(sql: """
                UPDATE devices SET token_hash = ?, device_key = NULL, enrolled_at = NULL, enrollment_expires = ? WHERE id = ?
                """, arguments: [Self.hash(token: token), expires, id])
            guard db.changesCount == 1 else { throw HubError(.unknownDevice, "no device '\(id.excerpt(70))' is enrolled") }
        }
        return EnrollmentLine(secret: token, hubKey: identity.fingerprint).description
    }

    /// `now` plus `validity`, in ms, saturating.
    static func expiry(from now: Int64, after validity: Duration) -> Int64 {
        let (seconds, attoseconds) = validity.components
        let (millis, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? Int64.min : Int64.max }
        let (sum, overflowed) = now.addingReportingOverflow(millis.addingReportingOverflow(attoseconds / 1_000_000_000_000_000).partialValue)
        return overflowed ? (millis < 0 ? Int64.min : Int64.max) : sum
    }

    /// Revokes a device: its token is refused from now on and live connections are cut.
    public func revokeDevice(_ id: String) throws {
        try replica.write { db in
            try db.execute(sql: "UPDATE devices SET revoked = 1 WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw HubError(.unknownDevice, "no device '\(id.excerpt(70))' is enrolled") }
        }
    }

    /// Every enrolled device, by id.
    public func devices() throws -> [Device] {
        try replica.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM devices ORDER BY id").map(Self.device(from:))
        }
    }

    /// Every enrolled device, by id, without blocking the calling thread.
    public func devices() async throws -> [Device] {
        try await replica.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM devices ORDER BY id").map(Self.device(from:))
        }
    }

    /// One device, or nil.
    public func device(_ id: String) async throws -> Device? {
        try await replica.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE id = ?", arguments: [id]).map(Self.device(from:))
        }
    }

    static func device(from row: Row) -> Device {
        let unitsText: String = row["units"]
        let units = (try? JSONDecoder().decode([String].self, from: Data(unitsText.utf8))) ?? []
        let keyText: String? = row["device_key"]
        return Device(id: row["id"], name: row["name"], units: units, isRevoked: row["revoked"],
                      confirmed: row["confirmed"], lastSync: row["last_sync"], clockOffset: row["clock_offset"],
                      key: keyText.flatMap { try? KeyFingerprint(parsing: $0) }, enrolledAt: row["enrolled_at"],
                      enrollmentExpires: row["enrollment_expires"],
                      chain: (row["chain_through"] as Int64? ?? 0) > 0 ? ChainStatus(from: row["chain_from"] ?? 1, through: row["chain_through"]) : nil)
    }

    /// Checks who a device is (PROTOCOL.md 9.8).
    ///
    /// Over TLS (`key` is the key of the device's certificate): a device that enrolled a key is
    /// admitted by that key alone; a device that has not is admitted when `token` is its enrollment
    /// secret and the secret has not expired, and `key` becomes its key, in the same transaction, so
    /// that the secret enrolls one key only. Over plain TCP (`key` nil, a lab hub): `token` is a bearer
    /// token, as in protocol 1, for a device that never enrolled a key.
    ///
    /// - Returns: the device; nil when the device is unknown or revoked, the secret is wrong, or the
    ///   key is not the enrolled one (the caller answers `unauthorized` without saying which).
    /// - Throws: ``InspectorProtocol/ProtocolError`` `enrollment_used` when the secret is right but
    ///   another key already enrolled with it, `enrollment_expired` when the secret is right but
    ///   expired: the holder of the secret may know that much.
    public func authenticate(device id: String, token: String, key: KeyFingerprint?) async throws -> Device? {
        // A device may send its whole enrollment line; the secret is what comes before '@'.
        let secret = token.firstIndex(of: "@").map { String(token[..<$0]) } ?? token
        let hash = Self.hash(token: secret)
        let now = replica.clock()
        // Read first: only an enrollment writes, so a hub that cannot write (a full disk) still admits
        // its enrolled devices, and their pulls are served.
        let found = try await replica.read { db -> (Device, String)? in
            try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE id = ?", arguments: [id]).map { (Self.device(from: $0), $0["token_hash"]) }
        }
        guard let (device, storedHash) = found, !device.isRevoked else { return nil }
        let secretMatches = Self.constantTimeEqual(storedHash, hash)
        if let enrolled = device.key {
            if let key, enrolled == key { return device }
            if secretMatches {
                throw ProtocolError(.enrollmentUsed, "this enrollment secret was used by another device key\(device.enrolledAt.map { " at \(ISOTime.format(millis: $0))" } ?? ""); ask the hub's operator to re-enroll device '\(id)'")
            }
            return nil
        }
        guard secretMatches else { return nil }
        if let expires = device.enrollmentExpires, now > expires {
            throw ProtocolError(.enrollmentExpired, "this enrollment code expired at \(ISOTime.format(millis: expires)); ask the hub's operator to re-enroll device '\(id)'")
        }
        guard let key else { return device }
        // Enroll the key, unless another one (a racing replica) or a re-enrollment got there first.
        let enrolled = try await replica.write { db -> Bool in
            try db.execute(sql: """
                UPDATE devices SET device_key = ?, enrolled_at = ? WHERE id = ? AND device_key IS NULL AND token_hash = ? AND revoked = 0
                """, arguments: [key.description, now, id, hash])
            return db.changesCount == 1
        }
        guard enrolled else {
            // Decided meanwhile: answer as the new state says.
            return try await authenticate(device: id, token: token, key: key)
        }
        var admitted = device
        admitted.key = key
        admitted.enrolledAt = now
        return admitted
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// The units a device may write and read: its assigned units and every unit below them.
    public func scope(of device: Device) -> Set<String> {
        replica.unitsWithDescendants(of: Set(device.units))
    }

    /// Adds a unit (a sub-unit chosen later, or a self-inspecting body).
    public func addUnit(_ unit: Plan.Unit) throws {
        try replica.upsertUnits([unit])
    }

    /// Records the end of a handshake: when, and the device's clock offset.
    public func recordHandshake(device: String, at time: Int64, clockOffset: Int64) async throws {
        try await replica.write { db in
            try db.execute(sql: "UPDATE devices SET last_sync = ?, clock_offset = ? WHERE id = ?",
                           arguments: [time, clockOffset, device])
        }
    }

    /// Keeps a device's latest report of the pulled ops it holds back; a report of none clears it.
    public func recordHeldBack(device: String, report: Message.HeldBackReport, at time: Int64) async throws {
        let entries = JSONValue.array(report.entries.prefix(Message.HeldBackReport.maximumEntries).map { entry in
            .object([("d", .string(entry.device)), ("s", .int(entry.sequence)),
                     ("code", .string(entry.code.excerpt(64))), ("message", .string(entry.message.excerpt(300)))])
        }).serialized()
        try await replica.write { db in
            if report.count == 0 {
                try db.execute(sql: "DELETE FROM held_back_reports WHERE device = ?", arguments: [device])
            } else {
                try db.execute(sql: """
                    INSERT INTO held_back_reports (device, count, entries, reported_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (device) DO UPDATE SET count = excluded.count, entries = excluded.entries, reported_at = excluded.reported_at
                    """, arguments: [device, report.count, entries, time])
            }
        }
    }

    /// The devices' latest reports of held-back ops, by device.
    public func heldBackReports() throws -> [String: HeldBackSummary] {
        try replica.read(Self.heldBackReports)
    }

    /// The devices' latest reports of held-back ops, by device, without blocking the calling thread.
    public func heldBackReports() async throws -> [String: HeldBackSummary] {
        try await replica.read { db in try Self.heldBackReports(db) }
    }

    private static func heldBackReports(_ db: Database) throws -> [String: HeldBackSummary] {
        var result: [String: HeldBackSummary] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT device, count, entries, reported_at FROM held_back_reports") {
            let text: String = row[2]
            var entries: [Message.HeldBackReport.Entry] = []
            if let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] {
                for object in array {
                    guard let d = object["d"] as? String, let s = (object["s"] as? NSNumber)?.int64Value,
                          let code = object["code"] as? String, let message = object["message"] as? String else { continue }
                    entries.append(.init(device: d, sequence: s, code: code, message: message))
                }
            }
            result[row[0]] = HeldBackSummary(count: row[1], entries: entries, reportedAt: row[3])
        }
        return result
    }

    /// What one device last reported of the pulled ops it holds back.
    public struct HeldBackSummary: Sendable, Hashable {
        public var count: Int
        public var entries: [Message.HeldBackReport.Entry]
        public var reportedAt: Int64
    }
}

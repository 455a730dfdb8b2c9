import Foundation
import GRDB
import InspectorCore
import InspectorProtocol
import InspectorStore

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
    }

    /// Enrolls a device for some units and returns its token (shown once; the hub keeps only a hash).
    ///
    /// - Throws: ``HubError`` `device_exists`, `invalid_units`; ``InspectorCore/CoreError`` for a bad id.
    public func addDevice(_ id: String, units: [String], name: String?) throws -> String {
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
        try replica.write { db in
            let exists = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?)", arguments: [id]) ?? false
            guard !exists else { throw HubError(.deviceExists, "device '\(id)' is already enrolled") }
            try db.execute(sql: "INSERT INTO devices (id, name, token_hash, units) VALUES (?, ?, ?, ?)",
                           arguments: [id, normalizedName, Self.hash(token: token), unitsJSON])
        }
        return token
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

    /// One device, or nil.
    public func device(_ id: String) async throws -> Device? {
        try await replica.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE id = ?", arguments: [id]).map(Self.device(from:))
        }
    }

    static func device(from row: Row) -> Device {
        let unitsText: String = row["units"]
        let units = (try? JSONDecoder().decode([String].self, from: Data(unitsText.utf8))) ?? []
        return Device(id: row["id"], name: row["name"], units: units, isRevoked: row["revoked"],
                      confirmed: row["confirmed"], lastSync: row["last_sync"], clockOffset: row["clock_offset"])
    }

    /// Checks a device's token.
    ///
    /// - Returns: the device, when the token matches and the device is not revoked; nil otherwise
    ///   (the caller answers `unauthorized` without saying which).
    public func authenticate(device id: String, token: String) async throws -> Device? {
        let hash = Self.hash(token: token)
        let found = try await replica.read { db -> (Device, String)? in
            try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE id = ?", arguments: [id]).map {
                (Self.device(from: $0), $0["token_hash"])
            }
        }
        guard let (device, stored) = found, !device.isRevoked, Self.constantTimeEqual(stored, hash) else { return nil }
        return device
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
        try replica.read { db in
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
    }

    /// What one device last reported of the pulled ops it holds back.
    public struct HeldBackSummary: Sendable, Hashable {
        public var count: Int
        public var entries: [Message.HeldBackReport.Entry]
        public var reportedAt: Int64
    }
}

import Foundation
import GRDB
import InspectorCore

// What a device needs to sign its own operation chain and to check the chains of others
// (PROTOCOL.md 19). The store keeps the bytes; hashing and signing belong to the protocol layer.

extension ReplicaStore {
    /// One of this device's own operations, as its chain covers it: set-aside ones included.
    public struct ChainEntry: Sendable, Equatable {
        public var operation: Op
        /// The hub refused it and the device set it aside: it travels as a digest only.
        public var isSetAside: Bool
    }

    /// A point of the device's own chain that can no longer change.
    public struct ChainAnchor: Sendable, Equatable {
        public var sequence: Int64
        /// The 32-byte chain value after `sequence`.
        public var value: [UInt8]
        public init(sequence: Int64, value: [UInt8]) {
            self.sequence = sequence
            self.value = value
        }
    }

    /// This device's own operations with sequence numbers in `range`, in order, set-aside ones included.
    public func chainEntries(in range: ClosedRange<Int64>) throws -> [ChainEntry] {
        try read { db in try Self.chainEntries(db, device: device, in: range) }
    }

    /// This device's own operations with sequence numbers in `range`, without blocking the calling thread.
    public func chainEntries(in range: ClosedRange<Int64>) async throws -> [ChainEntry] {
        let device = self.device
        return try await read { db in try Self.chainEntries(db, device: device, in: range) }
    }

    static func chainEntries(_ db: Database, device: String, in range: ClosedRange<Int64>) throws -> [ChainEntry] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT set_aside, \(Op.selectColumns) FROM op_rows
            WHERE device_id = (SELECT id FROM names WHERE name = ?) AND seq BETWEEN ? AND ? ORDER BY seq
            """), arguments: [device, range.lowerBound, range.upperBound]).map {
            ChainEntry(operation: Op(row: $0, offset: 1), isSetAside: ($0[0] as Int64) != 0)
        }
    }

    /// The last recorded anchor of the device's own chain, or nil.
    public func chainAnchor() throws -> ChainAnchor? {
        try read { db in try Self.chainAnchor(db) }
    }

    /// The last recorded anchor, without blocking the calling thread.
    public func chainAnchor() async throws -> ChainAnchor? {
        try await read { db in try Self.chainAnchor(db) }
    }

    static func chainAnchor(_ db: Database) throws -> ChainAnchor? {
        guard let text = try meta(db, .chainAnchor), let colon = text.firstIndex(of: ":"),
              let sequence = Int64(text[..<colon]) else { return nil }
        let hex = Array(text[text.index(after: colon)...].utf8)
        guard hex.count == 64 else { return nil }
        var value: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            value.append(byte)
        }
        return ChainAnchor(sequence: sequence, value: value)
    }

    /// Records a point of the own chain whose operations have left the device (pushed or exported),
    /// so that they can no longer change; later chains are computed from it.
    package func recordChainAnchor(_ anchor: ChainAnchor) throws {
        try write { db in try Self.recordChainAnchor(db, anchor) }
    }

    package func recordChainAnchor(_ anchor: ChainAnchor) async throws {
        try await write { db in try Self.recordChainAnchor(db, anchor) }
    }

    static func recordChainAnchor(_ db: Database, _ anchor: ChainAnchor) throws {
        guard anchor.value.count == 32, anchor.sequence >= 1 else { return }
        if let current = try chainAnchor(db), current.sequence >= anchor.sequence { return }
        try setMeta(db, .chainAnchor, "\(anchor.sequence):" + anchor.value.map { String(format: "%02x", $0) }.joined())
    }

    /// The key fingerprints of other devices, by device id, as the hub last listed them.
    public func authorKeys() throws -> [String: String] {
        try read { db in try Self.authorKeys(db) }
    }

    static func authorKeys(_ db: Database) throws -> [String: String] {
        guard let text = try meta(db, .authorKeys) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }

    /// Replaces the list of other devices' key fingerprints.
    package func recordAuthorKeys(_ keys: [String: String]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(keys), as: UTF8.self)
        try await write { db in try Self.setMeta(db, .authorKeys, text) }
    }
}

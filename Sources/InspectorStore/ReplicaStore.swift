import Foundation
import GRDB
import InspectorCore
import Synchronization

/// A replica of the inspection data in one SQLite file: the operation log and the merged state.
///
/// Every change is an ``InspectorCore/Op`` appended to the log; the materialized state
/// (current field values, findings, retractions) is updated in the same transaction, so the two
/// never disagree, even after a crash. The file is in WAL mode. Devices use
/// `synchronous=NORMAL` by default; the hub uses `FULL`, so that an acknowledged operation has
/// reached the disk.
///
/// `ReplicaStore` is a `Sendable` value over GRDB's `DatabaseWriter`: copy it freely, use it from
/// any task.
///
/// ```swift
/// let store = try ReplicaStore.create(at: "device.sqlite", device: "dev-a", plan: plan)
/// let op = try store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
/// print(try store.dataset().canonicalJSON())
/// ```
public struct ReplicaStore: Sendable {
    /// How hard SQLite works to put a commit on the disk.
    public enum Durability: String, Sendable {
        /// `synchronous=NORMAL` in WAL mode: a commit survives a process crash, and may be lost with power.
        case normal
        /// `synchronous=FULL`: a commit survives a power loss once the call returns.
        case full
    }

    /// The underlying database. Only the store writes SQL into its tables; the hub's component
    /// (in this package) reaches it for its own tables, which live in the same file and commit in
    /// the same transactions. An app reads and observes through the store's methods.
    package let writer: any DatabaseWriter

    /// The replica's SQLite file.
    public var path: String { writer.path }
    /// The device id of this replica (`hub` for a hub).
    public let device: String
    /// What this replica is: a device's or the hub's. Fixed when the file is created.
    public let role: Role
    /// Reads the wall clock in milliseconds since the epoch; replaced in tests.
    public let clock: @Sendable () -> Int64

    let context: Context

    /// Cached plan and units, refreshed whenever this process changes them.
    final class Context: Sendable {
        struct State: Sendable {
            var plan: Plan {
                didSet { index = PlanIndex(plan) }
            }
            var index: PlanIndex
            var units: [Plan.Unit]
            var unitIDs: Set<String>
            /// How many observations of this store run (``observe(otherProcessesPolledEvery:_:)``):
            /// while there are none, writes do not tell GRDB's observers (``Writers``).
            var observations = 0
        }
        let state: Mutex<State>
        /// The integers of the names in the file (``CommittedNames``).
        let names = CommittedNames()
        init(plan: Plan, units: [Plan.Unit]) {
            state = Mutex(State(plan: plan, index: PlanIndex(plan), units: units, unitIDs: Set(units.map(\.id))))
        }
    }

    /// The system wall clock in milliseconds since the epoch.
    public static let systemClock: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    init(writer: any DatabaseWriter, device: String, role: Role, plan: Plan, units: [Plan.Unit], clock: @escaping @Sendable () -> Int64) {
        self.writer = writer
        self.device = device
        self.role = role
        self.clock = clock
        self.context = Context(plan: plan, units: units)
    }

    /// The plan this replica follows.
    public var plan: Plan { context.state.withLock { $0.plan } }

    /// The units this replica knows: the plan's, then those added later, by id.
    public var units: [Plan.Unit] { context.state.withLock { $0.units } }

    /// Creates a new device replica file.
    ///
    /// - Parameters:
    ///   - path: the SQLite file to create; it must not exist.
    ///   - device: this replica's device id (not `hub`, which names the hub's own operations).
    ///   - plan: the plan to follow.
    ///   - durability: `synchronous` mode for every connection.
    ///   - clock: the wall clock, in milliseconds since the epoch.
    /// - Throws: ``StoreError`` (`already_exists`, `storage_failed`) or ``InspectorCore/CoreError`` for a bad device id.
    public static func create(at path: String, device: String, plan: Plan, durability: Durability = .normal,
                              clock: @escaping @Sendable () -> Int64 = systemClock) throws -> ReplicaStore {
        try Identifier.validateDevice(device)
        guard device != Identifier.hubDevice else {
            throw CoreError(.invalidDeviceID, "device id '\(device)' is reserved for the hub's own operations; choose another")
        }
        return try create(at: path, device: device, role: .device, plan: plan, durability: durability, clock: clock)
    }

    /// Creates the hub's replica file: every operation and the merged state, under the hub's own device id.
    package static func createHub(at path: String, plan: Plan, durability: Durability,
                                  clock: @escaping @Sendable () -> Int64) throws -> ReplicaStore {
        try create(at: path, device: Identifier.hubDevice, role: .hub, plan: plan, durability: durability, clock: clock)
    }

    private static func create(at path: String, device: String, role: Role, plan: Plan, durability: Durability,
                               clock: @escaping @Sendable () -> Int64) throws -> ReplicaStore {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.alreadyExists, "a file already exists at \(path)")
        }
        let writer = try openPool(path: path, durability: durability)
        try wrap {
            try migrator.migrate(writer)
            try writer.write { db in
                try setMeta(db, .device, device)
                try setMeta(db, .role, role.rawValue)
                try setMeta(db, .plan, String(decoding: plan.encoded(), as: UTF8.self))
                try replaceUnits(db, plan.units.map { ($0, true) })
            }
        }
        return try make(writer: writer, clock: clock)
    }

    /// Opens an existing replica file.
    ///
    /// - Throws: ``StoreError`` `not_found` when there is no file, `not_a_replica` when it is not one.
    public static func open(at path: String, durability: Durability = .normal,
                            clock: @escaping @Sendable () -> Int64 = systemClock) throws -> ReplicaStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.notFound, "no replica at \(path); create one with 'init'")
        }
        let writer = try openPool(path: path, durability: durability)
        try wrap {
            let isReplica = try writer.read { db in try db.tableExists("meta") && db.tableExists("ops") }
            guard isReplica else { throw StoreError(.notAReplica, "\(path) is not an InspectorSync replica") }
            let known = try writer.read { db in try migrator.appliedIdentifiers(db) }
            guard known.filter({ !$0.hasPrefix("hub-") }).isSubset(of: Set(migrator.migrations)) else {
                throw StoreError(.notAReplica, "\(path) was written by a newer version of InspectorSync")
            }
            try migrator.migrate(writer)
        }
        return try make(writer: writer, clock: clock)
    }

    private static func make(writer: any DatabaseWriter, clock: @escaping @Sendable () -> Int64) throws -> ReplicaStore {
        let (device, role, plan, units) = try wrap {
            try writer.read { db -> (String, Role, Plan, [Plan.Unit]) in
                guard let device = try meta(db, .device), let planText = try meta(db, .plan) else {
                    throw StoreError(.notAReplica, "the replica's metadata is missing")
                }
                // Files written before the role was recorded are the hub's when they
                // hold the hub's operations under its reserved id, which no device could take then.
                let role = try meta(db, .role).flatMap(Role.init(rawValue:))
                    ?? (device == Identifier.hubDevice ? .hub : .device)
                let plan = try Plan.decode(from: Data(planText.utf8))
                return (device, role, plan, try loadUnits(db))
            }
        }
        return ReplicaStore(writer: writer, device: device, role: role, plan: plan, units: units, clock: clock)
    }

    private static func openPool(path: String, durability: Durability) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
        }
        return try wrap {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                // DatabasePool sets synchronous=NORMAL on its writer when it enables WAL, after
                // prepareDatabase: set the durability again on the writer connection itself.
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
                    try db.execute(sql: "PRAGMA cache_size = -32768")
                }
                return pool
            } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
                throw StoreError(.notAReplica, "\(path) is not an InspectorSync replica (not an SQLite database)")
            }
        }
    }

    /// Runs `body`, turning SQLite errors into ``StoreError`` `storage_failed` without echoing SQL or arguments.
    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw StoreError(.storageFailed, "the database refused the change (\(error.resultCode)): \(error.message ?? "no detail"); nothing was written")
        }
    }

    /// Runs a read transaction, turning SQLite errors into ``StoreError`` `storage_failed`.
    package func read<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.wrap { try writer.read(body) }
    }

    /// Runs a write transaction, turning SQLite errors into ``StoreError`` `storage_failed`; nothing
    /// is written if `body` throws.
    package func write<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.wrap { try writer.write(body) }
    }

    /// Runs a read transaction without blocking the calling thread, turning SQLite errors into
    /// ``StoreError`` `storage_failed` (a raw `DatabaseError` never leaves the store).
    package func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.read(body)
        } catch let error as DatabaseError {
            throw StoreError(.storageFailed, "the database could not be read (\(error.resultCode)): \(error.message ?? "no detail")")
        }
    }

    /// Runs a write transaction without blocking the calling thread, turning SQLite errors into
    /// ``StoreError`` `storage_failed`; nothing is written if `body` throws.
    package func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.write(body)
        } catch let error as DatabaseError {
            throw StoreError(.storageFailed, "the database refused the change (\(error.resultCode)): \(error.message ?? "no detail"); nothing was written")
        }
    }
}

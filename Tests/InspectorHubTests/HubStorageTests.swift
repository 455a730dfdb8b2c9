import Foundation
import GRDB
import InspectorCore
import InspectorHub
import InspectorTLS
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Logging
import Synchronization
import Testing

/// `HubStorage`: the typed interface between the hub's server and its storage, and the errors that
/// cross it.
@Suite struct HubStorageTests {
    /// A storage that delegates to a hub file and records which requirements the server used: the
    /// server needs nothing but the protocol, so a second store can take the file's place.
    final class RecordingStorage: HubStorage {
        let inner: HubStore
        let calls = Mutex<[String]>([])
        init(_ inner: HubStore) { self.inner = inner }
        private func note(_ name: String) { calls.withLock { $0.append(name) } }

        var plan: Plan { inner.plan }
        var units: [Plan.Unit] { inner.units }
        func now() -> Int64 { inner.now() }
        func reloadUnits() async throws { note("reloadUnits"); try await inner.reloadUnits() }
        func authenticate(device: String, token: String, key: KeyFingerprint?) async throws -> HubStore.Device? {
            note("authenticate"); return try await inner.authenticate(device: device, token: token, key: key)
        }
        func device(_ id: String) async throws -> HubStore.Device? { note("device"); return try await inner.device(id) }
        func scope(of device: HubStore.Device) -> Set<String> { inner.scope(of: device) }
        func confirmed(device: String) async throws -> Int64 { note("confirmed"); return try await inner.confirmed(device: device) }
        func recordHandshake(device: String, at time: Int64, clockOffset: Int64) async throws {
            note("recordHandshake"); try await inner.recordHandshake(device: device, at: time, clockOffset: clockOffset)
        }
        func recordHeldBack(device: String, report: Message.HeldBackReport, at time: Int64) async throws {
            note("recordHeldBack"); try await inner.recordHeldBack(device: device, report: report, at: time)
        }
        func authorKeys() async throws -> [String: String] {
            note("authorKeys"); return try await inner.authorKeys()
        }
        func push(_ push: Message.Push, from device: HubStore.Device, scope: Set<String>, clockOffset: Int64) async throws(ProtocolError) -> Message.Pushed {
            note("push"); return try await inner.push(push, from: device, scope: scope, clockOffset: clockOffset)
        }
        func pull(after cursor: Int64, limit: Int, for device: String, scope: Set<String>, compact: Bool) async throws -> Message.OpsBatch {
            note("pull"); return try await inner.pull(after: cursor, limit: limit, for: device, scope: scope, compact: compact)
        }
        func pullCount(after cursor: Int64, for device: String, scope: Set<String>, compact: Bool) async throws -> Int {
            note("pullCount"); return try await inner.pullCount(after: cursor, for: device, scope: scope, compact: compact)
        }
        func offer(_ offer: Message.Offer, from device: String) async throws(ProtocolError) -> Message.FileState {
            note("offer"); return try await inner.offer(offer, from: device)
        }
        func store(_ chunk: Message.Chunk, size: Int64) async throws(ProtocolError) -> Message.FileState {
            note("store"); return try await inner.store(chunk, size: size)
        }
        func fetchable(_ hash: String, scope: Set<String>) async throws(ProtocolError) -> Int64 {
            note("fetchable"); return try await inner.fetchable(hash, scope: scope)
        }
        func readFile(_ hash: String, at offset: Int64, count: Int) async throws(ProtocolError) -> [UInt8] {
            note("readFile"); return try await inner.readFile(hash, at: offset, count: count)
        }
    }

    @Test func theServerRunsOverAnyStorage() async throws {
        let directory = TemporaryDirectory()
        let hub = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan)
        let token = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        try hub.replica.merge([setOp("dev-b", 1, item: "II.5", field: "fund_percent", value: "12.5", millis: 1_718_845_320_000)])
        let storage = RecordingStorage(hub)
        let server = HubServer(storage: storage, configuration: .init(host: "127.0.0.1", port: 0, security: .tlsAndPlaintext(try HubTLS(identity: hub.identity)),
                                                                      logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        let running = try await server.start()
        let task = Task { try await running.run() }
        defer { running.stop() }
        let device = try ReplicaStore.create(at: directory.path("dev-a.sqlite"), device: "dev-a", plan: builtInPlan)
        try await device.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        let summary = try await SyncClient(store: device, address: HubAddress(parsing: running.address), token: token).sync()
        #expect(summary.pushed == 1 && summary.pulled == 1)
        #expect(try await hub.dataset(for: "dev-a").canonicalJSON() == (try device.dataset(unitIDs: ["muong-lay"]).canonicalJSON()))
        let calls = Set(storage.calls.withLock { $0 })
        #expect(calls.isSuperset(of: ["authenticate", "confirmed", "recordHandshake", "pullCount", "push", "pull"]), "\(calls)")
        running.stop()
        _ = await task.result
    }

    /// A damaged hub file (its tables dropped behind the hub's back): every call fails with an error
    /// of the one error model, never a raw SQLite error, and the server answers the wire with a code.
    @Test func aDamagedFileFailsWithTheErrorModelNeverARawDatabaseError() async throws {
        let directory = TemporaryDirectory()
        let hub = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan)
        _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let device = try #require(try await hub.device("dev-a"))
        try await hub.replica.writer.write { db in
            try db.execute(sql: "DROP TABLE devices; DROP TABLE schedules; DROP TABLE resolutions; DROP TABLE push_offsets; DROP TABLE findings")
        }
        func check(_ label: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("\(label) did not fail")
            } catch {
                #expect(!(error is DatabaseError), "\(label) let a raw DatabaseError out: \(error)")
                #expect(error is any InspectorError, "\(label) threw \(type(of: error))")
            }
        }
        await check("addDevice") { _ = try hub.addDevice("dev-b", units: ["muong-lay"], name: nil) }
        await check("devices") { _ = try hub.devices() }
        await check("authenticate") { _ = try await hub.authenticate(device: "dev-a", token: "x", key: nil) }
        await check("device") { _ = try await hub.device("dev-a") }
        await check("confirmed") { _ = try await hub.confirmed(device: "dev-a") }
        await check("schedule") { try hub.schedule(unit: "muong-lay", arrival: CalendarDate(iso: "2024-11-05")) }
        await check("exportInput") { _ = try hub.exportInput(asOf: CalendarDate(iso: "2024-11-05")) }
        await check("dataset") { _ = try await hub.dataset(for: "dev-a") }
        await check("resolve") { _ = try hub.resolve(unit: "muong-lay", item: "II.4", field: "status", value: "done", by: "Lò Văn Thắng") }
        await check("push") { _ = try await hub.push(Message.Push(ops: [setOp("dev-a", 1)], withdrawn: []), from: device, scope: ["muong-lay"]) }
        do {
            _ = try await hub.push(Message.Push(ops: [setOp("dev-a", 1)], withdrawn: []), from: device, scope: ["muong-lay"])
        } catch {
            #expect(error.code == .storageFailed && error.code.isWire, "\(error)")
        }
    }
}

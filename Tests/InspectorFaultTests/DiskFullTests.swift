import Foundation
import GRDB
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue "a full disk": the hub's store cannot write. A push is refused with `storage_failed`,
/// nothing is acknowledged that is not stored, the hub keeps serving pulls, and once space returns the
/// next push succeeds.
extension FaultTests {
    @Suite("A full disk")
    struct DiskFullTests {
        /// A hub with dev-a, dev-b and dev-c on muong-lay; dev-b has pushed 20 ops that others can pull.
        struct Setup {
            let directory = TemporaryDirectory()
            let store: HubStore
            let hub: LiveHub
            let tokens: [String: String]
            /// dev-c: enrolled before the disk fills, never synced.
            private(set) var c: ReplicaStore? = nil

            init(hubPath: String? = nil) async throws {
                store = try HubStore.create(at: hubPath ?? directory.path("hub.sqlite"), plan: builtInPlan)
                var tokens: [String: String] = [:]
                for id in ["dev-a", "dev-b", "dev-c", "dev-d"] { tokens[id] = try store.addDevice(id, units: ["muong-lay"], name: nil) }
                self.tokens = tokens
                hub = try await LiveHub.start(store)
                let b = try device("dev-b", ops: 20)
                _ = try await SyncClient(store: b).sync()
                c = try await enrolledDevice("dev-c")
            }

            func device(_ id: String, ops: Int = 0) throws -> ReplicaStore {
                try makeDevice(directory, id, hub: hub, token: tokens[id]!, ops: ops)
            }

            /// A device replica whose key the hub has enrolled (as its first TLS handshake would), so that
            /// it needs no write at the hub to connect: enrolling a key is a write, which a full disk refuses.
            func enrolledDevice(_ id: String) async throws -> ReplicaStore {
                let store = try device(id)
                let key = try TLSIdentity.loadOrCreate(keyFile: SyncClient.keyFile(of: store)).fingerprint
                _ = try await self.store.authenticate(device: id, token: tokens[id]!, key: key)
                return store
            }

            /// dev-a's ops: 1,500 findings of about 1 KB each (more pages than any slack in the file).
            func bigDevice() async throws -> ReplicaStore {
                let a = try await enrolledDevice("dev-a")
                let text = [String](repeating: "Hồ sơ khen thưởng lưu trữ chưa đầy đủ.", count: 25).joined(separator: " ")
                let ops = (1...1500).map { n in
                    Op.findingAdd(device: "dev-a", sequence: Int64(n), timestamp: HLCTimestamp(millis: 1_718_000_000_000 + Int64(n), counter: 0, device: "dev-a"),
                                  unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "\(n). \(text)")
                }
                try a.restoreOwnOperations(ops)
                return a
            }

            var operationCount: Int { (try? store.replica.operationCount()) ?? -1 }
        }

        /// While the store cannot write: a raw push is refused with storage_failed and the session goes on; a
        /// device's sync fails with that code and keeps its confirmed number; another device pulls.
        static func checkRefusedWhileFull(_ setup: Setup, device a: ReplicaStore) async throws {
            let before = setup.operationCount
            #expect(before == 20)
            // On the wire (a lab's plain TCP, with dev-d's token as a bearer token; dev-d pushes ops of its own).
            let socket = try RawSocket(port: setup.hub.port)
            await socket.sendLine(helloLine("dev-d", token: setup.tokens["dev-d"]!))
            guard case .welcome(let welcome) = await socket.message() else { Issue.record("no welcome while the disk is full"); return }
            #expect(welcome.confirmed == 0)
            let batch = try a.operations(device: "dev-a").prefix(400).map(\.operation).map { op in
                Op.findingAdd(device: "dev-d", sequence: op.sequence, timestamp: HLCTimestamp(millis: op.timestamp.millis, counter: 0, device: "dev-d"),
                              unit: op.unit, item: op.item, kind: .shortcoming, text: "dev-d \(op.sequence)")
            }
            await socket.sendLine(.push(Message.Push(ops: batch)))
            let answer = await socket.message()
            guard case .error(let error) = answer else { Issue.record("a push on a full disk was answered \(String(describing: answer))"); return }
            #expect(error.code == .storageFailed && error.sequence == nil, "\(error)")
            #expect(!error.message.contains("INSERT") && !error.message.contains("Hồ sơ"), "the message echoes SQL or a payload: \(error.message)")
            await socket.sendLine(.pull(Message.Pull(cursor: 0)))
            guard case .ops(let pulled) = await socket.message() else { Issue.record("the session no longer serves a pull"); return }
            #expect(pulled.ops.count == 20 && pulled.cursor == 20 && !pulled.more)
            socket.close()
            #expect(setup.operationCount == before, "a refused push left operations behind")
            #expect(try await setup.store.confirmed(device: "dev-d") == 0)

            // Through the client: the sync fails with the hub's code; the device still believes 0 is confirmed.
            do {
                _ = try await SyncClient(store: a, responseTimeout: .seconds(20)).sync()
                Issue.record("a sync pushed to a full disk succeeded")
            } catch let error as SyncError {
                #expect(error.code == .refusedByHub && error.hubCode == .storageFailed, "\(error)")
            }
            let savedConfirmed = try await a.syncState().confirmed
            #expect(savedConfirmed == 0, "the device believes the hub holds what it could not store")
            #expect(setup.operationCount == before)
            #expect(try await setup.store.confirmed(device: "dev-a") == 0)

            // Pulls are served: a device that never synced gets dev-b's ops.
            let c = try #require(setup.c)
            let summary = try await SyncClient(store: c, responseTimeout: .seconds(20)).sync()
            #expect(summary.pulled == 20 && summary.pushed == 0)
            #expect(try c.operationCount() == 20)
        }

        /// Once space returns, the next sync pushes everything; the hub holds exactly what it acknowledged.
        static func checkSpaceReturns(_ setup: Setup, device a: ReplicaStore) async throws {
            let summary = try await SyncClient(store: a, responseTimeout: .seconds(60)).sync()
            #expect(summary.pushed == 1500 && summary.confirmed == 1500 && summary.pulled == 20)
            #expect(setup.operationCount == 1520)
            #expect(try await setup.store.confirmed(device: "dev-a") == 1500)
            let savedConfirmed = try await a.syncState().confirmed
            #expect(savedConfirmed == 1500)
            #expect(try setup.store.replica.integrityCheck() == "ok")
            #expect(try a.dataset(unitIDs: ["muong-lay"]).canonicalJSON() == (try await setup.store.dataset(for: "dev-a").canonicalJSON()))
        }

        /// `PRAGMA max_page_count` on the pool's writer connection (the setting is per connection) caps
        /// the file just above its size: inserts fail with SQLITE_FULL.
        @Test("a store that cannot grow (max_page_count): storage_failed, nothing acknowledged, pulls served; then space returns")
        func maxPageCount() async throws {
            let setup = try await Setup()
            let a = try await setup.bigDevice()
            let (pages, cap) = try await setup.store.replica.writer.writeWithoutTransaction { db -> (Int, Int) in
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                let cap = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages + 2)") ?? 0
                return (pages, cap)
            }
            print("[maxPageCount] the hub file has \(pages) pages; max_page_count set to \(cap)")
            #expect(cap == pages + 2)
            try await Self.checkRefusedWhileFull(setup, device: a)

            // Space returns.
            _ = try await setup.store.replica.writer.writeWithoutTransaction { db in
                try Int.fetchOne(db, sql: "PRAGMA max_page_count = 1073741823")
            }
            try await Self.checkSpaceReturns(setup, device: a)
            await setup.hub.stop()
        }

        /// Whether this process can mount a tmpfs (root, and a kernel that lets it).
        static let canMountTmpfs: Bool = {
            guard geteuid() == 0 else { return false }
            let probe = FileManager.default.temporaryDirectory.appendingPathComponent("inspectorsync-tmpfs-probe-\(UUID().uuidString)").path
            guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil else { return false }
            defer { try? FileManager.default.removeItem(atPath: probe) }
            guard mount("tmpfs", probe, "tmpfs", 0, "size=1m") == 0 else {
                print("[DiskFullTests] cannot mount a tmpfs (errno \(errno)): the tmpfs variant is skipped")
                return false
            }
            umount2(probe, Int32(MNT_DETACH))
            return true
        }()

        /// A real full file system: the hub's file on a 48 MiB tmpfs, the rest of it taken by a filler file.
        @Test("a full file system (tmpfs, needs root): storage_failed, nothing acknowledged, pulls served; then space returns",
              .enabled(if: DiskFullTests.canMountTmpfs, "needs root and permission to mount a tmpfs"))
        func fullFileSystem() async throws {
            let outer = TemporaryDirectory()
            let mountPoint = outer.path("small-disk")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            try #require(mount("tmpfs", mountPoint, "tmpfs", 0, "size=48m") == 0, "mount failed: errno \(errno)")
            defer { umount2(mountPoint, Int32(MNT_DETACH)) }

            let setup = try await Setup(hubPath: mountPoint + "/hub.sqlite")
            let a = try await setup.bigDevice()
            // Take every free byte.
            let filler = mountPoint + "/filler"
            let descriptor = open(filler, O_CREAT | O_WRONLY, 0o644)
            try #require(descriptor >= 0)
            let chunk = [UInt8](repeating: 0xAB, count: 64 * 1024)
            var filled = 0
            while true {
                let n = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                filled += n
            }
            let fillError = errno
            close(descriptor)
            print("[fullFileSystem] filled the tmpfs with \(filled / 1024) KiB; the last write failed with errno \(fillError)")
            #expect(fillError == ENOSPC)

            try await Self.checkRefusedWhileFull(setup, device: a)

            // Space returns.
            try FileManager.default.removeItem(atPath: filler)
            try await Self.checkSpaceReturns(setup, device: a)
            await setup.hub.stop()
            try (setup.store.replica.writer as? DatabasePool)?.close()
        }
    }
}

import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS
import Synchronization
import Testing
@testable import InspectorTestSupport

/// Negotiated stream compression (PROTOCOL.md section 18) from the device's side.
@Suite("Stream compression, device side")
struct ClientCompressionTests {
    typealias Setup = SyncClientTests.Setup

    static let text = "Chưa trích lập quỹ thi đua, khen thưởng theo quy định; đơn vị cần bổ sung quyết định trích lập quỹ"

    /// The same edits on a device: findings with the repetitive text of real reports, and a count.
    func record(_ store: ReplicaStore, _ count: Int) throws {
        for n in 0..<count {
            try store.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "\(Self.text) (lần \(n)).")
            try store.set(unit: "muong-lay", item: "II.6.c", field: "staff_count", value: String(n))
        }
    }

    @Test func devicesWithAndWithoutCompressionConvergeAndTheCompressedOneSendsFewerBytes() async throws {
        let setup = try await Setup()
        let (a, b) = (setup.a, setup.b)
        // Both have synced once, so their pulls are in full (not a new device's compact first sync,
        // PROTOCOL.md 11.6) and carry the same volume each way.
        _ = try await setup.sync(a)
        _ = try await setup.sync(b)
        try record(a, 150)
        try record(b, 150)
        let pushedA = try await setup.sync(a, compresses: true)
        let pushedB = try await setup.sync(b, compresses: false)
        #expect(pushedA.pushed == 300 && pushedB.pushed == 300)
        #expect(pushedB.pulled == 300, "dev-b pulls dev-a's operations, uncompressed")
        let pulledA = try await setup.sync(a, compresses: true)
        #expect(pulledA.pulled == 300, "dev-a pulls dev-b's operations, compressed")

        // The same volume each way: the compressed device's socket carries far fewer bytes.
        #expect(pushedA.bytesSent * 3 < pushedB.bytesSent, "compressed \(pushedA.bytesSent), plain \(pushedB.bytesSent)")
        #expect(pulledA.bytesReceived * 3 < pushedB.bytesReceived, "compressed \(pulledA.bytesReceived), plain \(pushedB.bytesReceived)")
        // Uncompressed, the socket carries at least the push line itself.
        let ownB = try b.operations(device: "dev-b").map(\.operation)
        let pushLine = LineChannel.buffer(.push(Message.Push(ops: ownB))).readableBytes
        #expect(pushedB.bytesSent > pushLine)
        #expect(pushedA.bytesSent < pushLine / 3)

        // Identical datasets on both devices and at the hub.
        let scope: Set<String> = ["muong-lay"]
        let hubView = try await setup.hub.store.dataset(for: "dev-a").canonicalJSON()
        #expect(try a.dataset(unitIDs: scope).canonicalJSON() == hubView)
        #expect(try b.dataset(unitIDs: scope).canonicalJSON() == hubView)
        #expect(Set(try a.operations().map(\.operation)) == Set(try b.operations().map(\.operation)))
        #expect(try setup.hub.store.replica.operationCount() == 600)
        await setup.hub.stop()
    }

    /// A hub that does not allow compression declines the offer: the session is plain, byte for byte
    /// the one of a device that offers nothing, but for the offer in its hello.
    @Test func aHubThatDoesNotAllowCompressionDeclinesAndTheSyncWorks() async throws {
        let hub = try await LiveHub.start(allowsCompression: false)
        let token = try hub.store.addDevice("dev-a", units: ["muong-lay"], name: nil)
        let tokenB = try hub.store.addDevice("dev-b", units: ["muong-lay"], name: nil)
        let directory = TemporaryDirectory()
        let a = try makeDevice(directory, "dev-a")
        let b = try makeDevice(directory, "dev-b")
        _ = try await SyncClient(store: b, address: hub.address, token: tokenB, compresses: true).sync()   // not new any more: full pulls
        try record(a, 20)
        let offering = try await SyncClient(store: a, address: hub.address, token: token, compresses: true).sync()
        #expect(offering.pushed == 40 && offering.confirmed == 40)
        let pulled = try await SyncClient(store: b, address: hub.address, token: tokenB, compresses: true).sync()
        #expect(pulled.pulled == 40)
        #expect(try b.dataset(unitIDs: ["muong-lay"]).canonicalJSON() == (try a.dataset(unitIDs: ["muong-lay"]).canonicalJSON()))

        // Nothing left to do: hello, pull, bye. The offer adds exactly `,"compress":["deflate"]`.
        let declined = try await SyncClient(store: a, address: hub.address, token: token, compresses: true).sync()
        let plain = try await SyncClient(store: a, address: hub.address, token: token, compresses: false).sync()
        #expect(declined.bytesSent == plain.bytesSent + ",\"compress\":[\"deflate\"]".utf8.count)
        #expect(declined.bytesReceived == plain.bytesReceived)
        await hub.stop()
    }

    /// PROTOCOL.md 18.2: a device fails when the welcome names a compression it did not offer.
    @Test func aDeviceRefusesACompressionItDidNotOffer() async throws {
        for (compresses, chosen) in [(true, "zstd"), (true, "DEFLATE"), (false, "deflate")] {
            let directory = TemporaryDirectory()
            let store = try makeDevice(directory, "dev-a")
            let offer = compresses ? ",\"compress\":[\"deflate\"]" : ""
            let transcript = try Transcript(name: "compress-\(chosen)", text: """
                C: hello {"version":2,"device":"dev-a","token":"<token:dev-a>","time":0,"plan_digest":"<plan-digest>"\(offer),"cursor":0,"compact":true}
                S: welcome {"version":2,"time":<hub-time>,"confirmed":0,"scope":["muong-lay"],"units":[{"id":"muong-lay","name":"UBND thị xã Mường Lay","kind":"direct","parent":null}],"plan_digest":"<plan-digest>","compress":"\(chosen)"}
                S: <closed>
                """)
            let substitutions = Substitutions(tokens: ["dev-a": "t"], planDigest: builtInPlan.digest, hubTime: fixedHubTime)
            let hub = try await FakeHub.start(transcript: transcript, substitutions: substitutions, adaptsWelcome: false)
            let error = await syncError {
                _ = try await SyncClient(store: store, address: HubAddress(host: "127.0.0.1", port: hub.port),
                                         token: EnrollmentLine(secret: "t", hubKey: FakeHub.identity.fingerprint).description,
                                         responseTimeout: .seconds(10), compresses: compresses).sync()
            }
            for problem in await hub.finish() { Issue.record("\(chosen): \(problem)") }
            if compresses {
                #expect(error?.code == .protocolViolation, "welcome chose '\(chosen)'")
                #expect(try store.scope() == nil, "nothing of the refused welcome is stored")
            } else {
                #expect(error?.code == .protocolViolation, "a device that offered nothing was told to compress")
            }
        }
    }

    /// A sub-unit added at the hub while a device syncs: the hub's scope is recomputed for every
    /// request, so the device's pull carries an operation on a unit its welcome did not list.
    @Test func aSubUnitAddedAtTheHubDuringASyncReachesTheDevice() async throws {
        let setup = try await Setup()
        let a = setup.a
        try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        let hubStore = setup.hub.store
        let subUnit = Plan.Unit(id: "muong-lay.na-lay", name: "Phường Na Lay", kind: .direct, parent: "muong-lay")
        let op = Op.set(device: "dev-b", sequence: 1, timestamp: ts(1_718_845_320_000, 0, "dev-b"),
                        unit: subUnit.id, item: "II.4", field: "status", value: "in_progress")
        let hook = Mutex<(any Error)?>(nil)
        // After the push is acknowledged and before the pull: the hub gains a sub-unit and an op on it.
        let client = try SyncClient(store: a, responseTimeout: .seconds(20), progress: { event in
            guard case .pushing(let done, _) = event, done > 0 else { return }
            do {
                try hubStore.addUnit(subUnit)
                try hubStore.replica.merge([op])
            } catch {
                hook.withLock { $0 = error }
            }
        })
        var firstError: (any Error)?
        do { _ = try await client.sync() } catch { firstError = error }
        #expect(hook.withLock { $0 } == nil)
        // The sync handshakes again when a pull brings a unit its welcome did not list.
        #expect(firstError == nil, "the sync failed: \(firstError.map { "\($0)" } ?? "")")
        let second = try await setup.sync(a)
        #expect(try a.operations(device: "dev-b").map(\.operation) == [op])
        #expect(a.units.contains(subUnit))
        #expect(try a.scope() == ["muong-lay", "muong-lay.na-lay"])
        #expect(second.refused.isEmpty)
        await setup.hub.stop()
    }
}

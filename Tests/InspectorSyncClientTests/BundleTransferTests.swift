import Foundation
import InspectorCore
import InspectorHub
@testable import InspectorProtocol
import InspectorStore
@testable import InspectorSyncClient
import InspectorTLS
import Testing

/// Signed bundles on a device (PROTOCOL.md 17, 19): what `BundleTransfer` writes and what it takes.
@Suite struct BundleTransferTests {
    /// A hub with dev-a and dev-b enrolled, and their replicas pointed at it with their lines.
    struct Setup {
        let hub: LiveHub
        let a: ReplicaStore
        let b: ReplicaStore
        let directory: TemporaryDirectory

        static func make() async throws -> Setup {
            let hub = try await LiveHub.start()
            let directory = TemporaryDirectory()
            let a = try makeDevice(directory, "dev-a"), b = try makeDevice(directory, "dev-b")
            try a.connect(toHubAt: hub.address.description, token: try hub.store.addDevice("dev-a", units: ["muong-lay"], name: nil))
            try b.connect(toHubAt: hub.address.description, token: try hub.store.addDevice("dev-b", units: ["muong-lay"], name: nil))
            return Setup(hub: hub, a: a, b: b, directory: directory)
        }
    }

    @Test func aBundleCarriesTheWritersOwnOpsSignedAndTheirSetAsideOpsAsDigests() async throws {
        let setup = try await Setup.make()
        _ = try await setup.a.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
        _ = try await SyncClient(store: setup.a).sync()
        _ = try await setup.b.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
        _ = try await SyncClient(store: setup.b).sync()
        _ = try await SyncClient(store: setup.a).sync()  // a pulls b's op, and learns b's key
        // a's #2 is set aside (as after a refusal); #3 and #4 are new.
        _ = try await setup.a.set(unit: "muong-lay", item: "II.4", field: "note", value: "Ghi chú bị từ chối")
        try setup.a.setAside(RefusedOp(sequence: 2, code: "invalid_op", message: "test"))
        _ = try await setup.a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        _ = try await setup.a.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Chưa trích lập quỹ")

        let url = setup.directory.url.appendingPathComponent("a.bundle")
        let summary = try BundleTransfer.export(from: setup.a, to: url)
        #expect(summary.count == 3 && summary.othersLeftOut == 1, "b's op is left out: only its author can sign it")
        let bundle = try BundleFile.decode(Data(contentsOf: url))
        #expect(bundle.ops.allSatisfy { $0.device == "dev-a" } && bundle.ops.map(\.sequence) == [1, 3, 4])
        let head = try #require(bundle.heads.first)
        #expect(head.from == 1 && head.through == 4 && head.gaps.keys.sorted() == [2] && head.previous == .genesis)
        #expect(head.fingerprint == (try TLSIdentity.loadOrCreate(keyFile: SyncClient.keyFile(of: setup.a)).fingerprint))
        #expect(head.enrollment != nil, "a replica holding its enrollment secret proves it")
        let anchor = try await setup.a.chainAnchor()
        #expect(anchor?.sequence == 4, "what a bundle carried can no longer change")

        // b knows a's key from the hub's welcome: it imports; a stranger refuses it.
        #expect(try BundleTransfer.import(from: url, into: setup.b).applied == 2, "#1 came by the hub; #3 and #4 are new")
        let stranger = try makeDevice(setup.directory, "dev-c")
        #expect(throws: ProtocolError.self) { try BundleTransfer.import(from: url, into: stranger) }
        do { try BundleTransfer.import(from: url, into: stranger) } catch let error as ProtocolError {
            #expect(error.code == .unknownAuthor && error.message.contains("dev-a"))
        }
        #expect(try stranger.operationCount() == 0)

        // The hub takes it, and a's next push continues the same chain from its anchor.
        try await setup.hub.store.importBundle(bundle)
        _ = try await setup.a.set(unit: "muong-lay", item: "II.4", field: "rating", value: "kha")
        _ = try await SyncClient(store: setup.a).sync()
        #expect(try await setup.hub.store.device("dev-a")?.chain == HubStore.ChainStatus(from: 1, through: 5))
        await setup.hub.stop()
    }

    /// A second export after `--since` signs a run that continues the first (its `p` is the first's
    /// head), which a hub holding the first accepts.
    @Test func successiveBundlesContinueOneChain() async throws {
        let setup = try await Setup.make()
        _ = try await setup.a.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
        let first = setup.directory.url.appendingPathComponent("1.bundle"), second = setup.directory.url.appendingPathComponent("2.bundle")
        let written = try BundleTransfer.export(from: setup.a, to: first)
        _ = try await setup.a.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        try BundleTransfer.export(from: setup.a, to: second, since: written.through)
        let one = try BundleFile.decode(Data(contentsOf: first)), two = try BundleFile.decode(Data(contentsOf: second))
        #expect(two.heads[0].from == 2 && two.heads[0].previous == one.heads[0].head)
        // The hub never met dev-a: the first bundle's proof enrolls its key.
        try await setup.hub.store.importBundle(one)
        try await setup.hub.store.importBundle(two)
        #expect(try await setup.hub.store.device("dev-a")?.chain == HubStore.ChainStatus(from: 1, through: 2))
        await setup.hub.stop()
    }
}

import Crypto
import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import Testing

/// The hub's side of files (PROTOCOL.md 20): which offers it takes, chunks made durable, the whole
/// file checked, fetches limited to a device's scope.
@Suite struct HubStoreAttachmentsTests {
    struct Setup {
        let directory = TemporaryDirectory()
        let hub: HubStore
        let a: HubStore.Device
        let b: HubStore.Device
        let bytes: [UInt8]
        let hash: String

        init() async throws {
            hub = try makeHub(directory)
            _ = try hub.addDevice("dev-a", units: ["muong-lay"], name: nil)
            _ = try hub.addDevice("dev-b", units: ["so-y-te"], name: nil)
            let devices = try await hub.devices()
            a = devices.first { $0.id == "dev-a" }!
            b = devices.first { $0.id == "dev-b" }!
            var generated = (0..<600_000).map { UInt8(($0 * 31 + 7) % 251) }
            generated[0] = 0xFF; generated[1] = 0xD8; generated[2] = 0xFF
            bytes = generated
            hash = SHA256.hash(data: generated).map { String(format: "%02x", $0) }.joined()
            let t = fixedHubTime - 60_000
            let finding = Op.findingAdd(device: "dev-a", sequence: 1, timestamp: ts(t, 0, "dev-a"), unit: "muong-lay", item: "II.4",
                                        kind: .shortcoming, text: "Thiếu biên bản")
            let attach = Op.attachmentAdd(device: "dev-a", sequence: 2, timestamp: ts(t + 1, 0, "dev-a"), unit: "muong-lay", item: "II.4",
                                          finding: "dev-a/1", descriptor: try AttachmentDescriptor(hash: hash, size: 600_000, type: .jpeg, name: "ảnh.jpg"))
            _ = try await hub.push(Message.Push(ops: [finding, attach]), from: a, scope: hub.scope(of: a))
        }
    }

    static func code(_ body: () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch let error as ProtocolError { return error.code.rawValue } catch { return "\(error)" }
    }

    @Test func anOfferIsTakenOnlyForAFileTheDeviceAttachedWithItsSize() async throws {
        let setup = try await Setup()
        let (hub, hash) = (setup.hub, setup.hash)
        #expect(try await hub.offer(.init(hash: hash, size: 600_000), from: "dev-a") == .init(hash: hash, have: 0))
        #expect(await Self.code { _ = try await hub.offer(.init(hash: hash, size: 600_001), from: "dev-a") } == "unknown_attachment")
        #expect(await Self.code { _ = try await hub.offer(.init(hash: hash, size: 600_000), from: "dev-b") } == "unknown_attachment", "another device's file")
        #expect(await Self.code { _ = try await hub.offer(.init(hash: String(repeating: "0", count: 64), size: 1), from: "dev-a") } == "unknown_attachment")
        for size in [Int64(0), -1, AttachmentDescriptor.maximumSize + 1, .max, .min] {
            #expect(await Self.code { _ = try await hub.offer(.init(hash: hash, size: size), from: "dev-a") } == "attachment_too_large", "\(size)")
        }
    }

    @Test func chunksAreDurableInOrderAndTheWholeFileIsChecked() async throws {
        let setup = try await Setup()
        let (hub, hash, bytes) = (setup.hub, setup.hash, setup.bytes)
        let first = try await hub.store(.init(hash: hash, offset: 0, data: Array(bytes[0..<262_144])), size: 600_000)
        #expect(first.have == 262_144)
        #expect(await Self.code { _ = try await hub.store(.init(hash: hash, offset: 262_145, data: [1]), size: 600_000) } == "bad_chunk")
        #expect(try await hub.offer(.init(hash: hash, size: 600_000), from: "dev-a").have == 262_144, "a new session resumes there")
        // Before the file is whole, no device can fetch it.
        #expect(await Self.code { _ = try await hub.fetchable(hash, scope: ["muong-lay"]) } == "unknown_attachment")
        let last = try await hub.store(.init(hash: hash, offset: 262_144, data: Array(bytes[262_144...])), size: 600_000)
        #expect(last.have == 600_000 && hub.attachmentFiles.holds(hash))
        #expect(try await hub.offer(.init(hash: hash, size: 600_000), from: "dev-a").have == 600_000, "held: nothing more to send")
        #expect(try await hub.fetchable(hash, scope: ["muong-lay"]) == 600_000)
        #expect(await Self.code { _ = try await hub.fetchable(hash, scope: ["so-y-te"]) } == "unknown_attachment", "out of scope")
        #expect(try await hub.readFile(hash, at: 599_990, count: 100) == Array(bytes[599_990...]))
    }

    @Test func aWholeFileThatIsNotItsHashIsDiscarded() async throws {
        let setup = try await Setup()
        var wrong = setup.bytes
        wrong[12_345] ^= 0xFF
        #expect(await Self.code { _ = try await setup.hub.store(.init(hash: setup.hash, offset: 0, data: wrong), size: 600_000) } == "hash_mismatch")
        #expect(!setup.hub.attachmentFiles.holds(setup.hash))
        #expect(try await setup.hub.offer(.init(hash: setup.hash, size: 600_000), from: "dev-a").have == 0, "sent again from the start")
    }

    @Test func aDeviceWhoseOpsNameMoreThanItsBudgetIsRefusedItsFiles() async throws {
        let setup = try await Setup()
        let hub = setup.hub
        // 63 more files of 32 MiB: with the first (600,000 bytes) the device's ops name just under 2 GiB.
        func attach(_ index: Int, size: Int64) throws -> Op {
            let hash = SHA256.hash(data: Array("file \(index)".utf8)).map { String(format: "%02x", $0) }.joined()
            return Op.attachmentAdd(device: "dev-a", sequence: Int64(index + 2), timestamp: ts(fixedHubTime - 50_000 + Int64(index), 0, "dev-a"),
                                    unit: "muong-lay", item: "II.4", finding: "dev-a/1",
                                    descriptor: try AttachmentDescriptor(hash: hash, size: size, type: .jpeg, name: "\(index).jpg"))
        }
        let many = try (1...63).map { try attach($0, size: AttachmentDescriptor.maximumSize) }
        _ = try await hub.push(Message.Push(ops: many), from: setup.a, scope: hub.scope(of: setup.a))
        #expect(try await hub.offer(.init(hash: setup.hash, size: 600_000), from: "dev-a").have == 0, "within the budget")
        let over = try attach(64, size: AttachmentDescriptor.maximumSize)
        _ = try await hub.push(Message.Push(ops: [over]), from: setup.a, scope: hub.scope(of: setup.a))
        #expect(await Self.code { _ = try await hub.offer(.init(hash: setup.hash, size: 600_000), from: "dev-a") } == "attachment_too_large")
    }
}

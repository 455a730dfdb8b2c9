import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Testing
@testable import InspectorTestSupport

/// Devices whose clocks are days off, or jump backwards, still converge, and an edit made after
/// seeing another one wins over it whatever the clocks say.
@Suite("Clock faults")
struct ClockFaultTests {
    static let day: Int64 = 86_400_000

    struct Device {
        let store: ReplicaStore
        let clock: ShiftableClock
        let token: String
    }

    static func device(_ id: String, _ hub: LiveHub, _ directory: TemporaryDirectory, shift: Int64) throws -> Device {
        let clock = ShiftableClock(shift: shift)
        let token = try hub.store.addDevice(id, units: ["muong-lay"], name: nil)
        let store = try ReplicaStore.create(at: directory.path("\(id).sqlite"), device: id, plan: builtInPlan, clock: clock.closure)
        return Device(store: store, clock: clock, token: token)
    }

    static func sync(_ device: Device, _ hub: LiveHub) async throws -> SyncClient.Summary {
        try await SyncClient(store: device.store, address: hub.address, token: device.token, batchSize: 3, responseTimeout: .seconds(20)).sync()
    }

    /// Every device equals the hub, the hub equals the model, and each device's timestamps grow with its sequence numbers.
    static func checkConverged(_ devices: [String: Device], _ hub: LiveHub, _ label: String) async throws {
        var model = MergeState()
        for (id, device) in devices.sorted(by: { $0.key < $1.key }) {
            // A device's own ops less those it set aside (stamped too far ahead and recorded again).
            let own = try device.store.operations(device: id, includingSetAside: false).map(\.operation)
            for op in own { model.apply(op) }
            #expect(zip(own, own.dropFirst()).allSatisfy { $0.timestamp < $1.timestamp },
                    "\(label): \(id)'s timestamps go back: \(own.map(\.timestamp))")
            #expect(try hub.store.replica.operations(device: id).map(\.operation) == own, "\(label): the hub's ops of \(id) differ")
            let expected = try await hub.store.dataset(for: id).canonicalJSON()
            #expect(try device.store.dataset(unitIDs: ["muong-lay"]).canonicalJSON() == expected, "\(label): \(id) differs from the hub")
        }
        #expect(model.dataset(plan: builtInPlan, units: hub.store.replica.units).canonicalJSON() == (try await hub.store.dataset().canonicalJSON()),
                "\(label): the hub differs from MergeState")
    }

    @Test("a week-fast edit made before the first sync is corrected; a slow device that pulled it orders its later edit after it (HLC receive rule)")
    func slowDeviceEditAfterSeeingWins() async throws {
        let hub = try await LiveHub.start()
        let directory = TemporaryDirectory()
        let fast = try Self.device("dev-fast", hub, directory, shift: 7 * Self.day)
        let slow = try Self.device("dev-slow", hub, directory, shift: -7 * Self.day)
        let fine = try Self.device("dev-fine", hub, directory, shift: 0)

        // dev-fast edits before it ever measured its offset: its stamp is a week ahead.
        let before = ReplicaStore.systemClock()
        let ahead = try await fast.store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        #expect(ahead.timestamp.millis > ReplicaStore.systemClock() + 6 * Self.day)
        // Its first handshake tells it the offset; the op never left it, so its time is corrected before the push.
        let first = try await Self.sync(fast, hub)
        #expect(first.corrected == 1 && first.pushed == 1, "\(first)")
        let corrected = try #require(try hub.store.replica.operations(device: "dev-fast").first?.operation)
        // Corrected to when the edit was made in true time, give or take the offset's measuring error
        // (half a round trip): between the edit and the end of the sync, with a minute's margin each side.
        let after = ReplicaStore.systemClock()
        #expect((before - 60_000...after + 60_000).contains(corrected.timestamp.millis), "corrected to \(corrected.timestamp)")
        #expect(try fast.store.operations(device: "dev-fast").map(\.operation) == [corrected])
        // dev-slow pulls it, then its clock jumps back another hour, and it edits the same field.
        let pulled = try await Self.sync(slow, hub)
        #expect(pulled.pulled == 1)
        slow.clock.shift(by: -3_600_000)
        let later = try await slow.store.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
        #expect(later.timestamp > corrected.timestamp, "an edit made after seeing another must order after it: \(later.timestamp) vs \(corrected.timestamp)")
        #expect(try slow.store.dataset(unitIDs: ["muong-lay"]).values.first { $0.item == "II.4" && $0.field == "status" }?.current.value == "in_progress")
        // dev-fine edits the field last, in true time, with a true clock: it wins.
        let last = try await fine.store.set(unit: "muong-lay", item: "II.4", field: "status", value: "not_started")
        #expect(last.timestamp > later.timestamp)
        for _ in 0..<2 { for device in [slow, fine, fast] { _ = try await Self.sync(device, hub) } }

        let devices = ["dev-fast": fast, "dev-slow": slow, "dev-fine": fine]
        for (id, device) in devices {
            let value = try device.store.dataset(unitIDs: ["muong-lay"]).values.first { $0.item == "II.4" && $0.field == "status" }
            #expect(value?.current.value == "not_started" && value?.current.device == "dev-fine", "\(id) shows \(String(describing: value))")
        }
        try await Self.checkConverged(devices, hub, "slowDeviceEditAfterSeeingWins")
        await hub.stop()
    }

    @Test("an edit stamped a day ahead that left in a bundle is refused by the hub (clock_ahead) and recorded again: no work is lost")
    func refusedAheadEditIsRecordedAgain() async throws {
        let hub = try await LiveHub.start()
        let directory = TemporaryDirectory()
        let jumpy = try Self.device("dev-jumpy", hub, directory, shift: 0)
        let other = try Self.device("dev-other", hub, directory, shift: 0)
        _ = try await Self.sync(jumpy, hub)
        // After its sync, the clock jumps a day ahead; an edit is stamped with it, and leaves in a bundle.
        jumpy.clock.shift(by: Self.day)
        let ahead = try await jumpy.store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
        _ = try BundleTransfer.export(from: jumpy.store, to: URL(fileURLWithPath: directory.path("jumpy.bundle")))
        let before = ReplicaStore.systemClock()
        let summary = try await Self.sync(jumpy, hub)
        let after = ReplicaStore.systemClock()
        #expect(summary.refused.map(\.sequence) == [ahead.sequence] && summary.refused.map(\.code) == ["clock_ahead"], "\(summary)")
        let recorded = try #require(summary.recordedAgain.first)
        #expect(summary.recordedAgain.count == 1 && recorded.value == "done" && recorded.sequence == ahead.sequence + 1)
        #expect((before - 60_000...after + 60_000).contains(recorded.timestamp.millis), "recorded again at \(recorded.timestamp)")
        #expect(summary.confirmed == recorded.sequence, "the withdrawn number counts as settled")
        #expect(try hub.store.replica.operations(device: "dev-jumpy").map(\.operation) == [recorded])
        _ = try await Self.sync(other, hub)
        let value = try other.store.dataset(unitIDs: ["muong-lay"]).values.first { $0.field == "status" }
        #expect(value?.current.value == "done" && value?.current.sequence == recorded.sequence)
        try await Self.checkConverged(["dev-jumpy": jumpy, "dev-other": other], hub, "refusedAheadEditIsRecordedAgain")
        await hub.stop()
    }

    @Test("devices ±7 days off and a clock that jumps backwards mid-session converge, timestamps monotonic per device")
    func skewedAndJumpingClocksConverge() async throws {
        var rng = FaultRNG(seed: faultSeed("skewedAndJumpingClocksConverge"))
        let hub = try await LiveHub.start()
        let directory = TemporaryDirectory()
        let devices = [
            "dev-ahead": try Self.device("dev-ahead", hub, directory, shift: 7 * Self.day),
            "dev-behind": try Self.device("dev-behind", hub, directory, shift: -7 * Self.day),
            "dev-jumpy": try Self.device("dev-jumpy", hub, directory, shift: 0),
        ]
        let ids = devices.keys.sorted()
        for round in 0..<12 {
            for id in ids {
                let device = devices[id]!
                for _ in 0..<rng.int(0...4) { try FaultEdits.edit(device.store, &rng) }
            }
            // The jumpy clock goes back by up to two days, sometimes in the middle of a session (between its
            // edits and its sync), sometimes after it pulled.
            let jumpy = devices["dev-jumpy"]!
            jumpy.clock.shift(by: -Int64(rng.int(1...48)) * 3_600_000)
            let id = rng.pick(ids)
            _ = try await Self.sync(devices[id]!, hub)
            if id == "dev-jumpy" {
                jumpy.clock.shift(by: -Int64(rng.int(1...60)) * 60_000)
                try FaultEdits.edit(jumpy.store, &rng)
            }
            // The ±7-day devices stay off even after measuring their offset; every few rounds their clocks wander further.
            if round % 4 == 3 { devices["dev-behind"]!.clock.shift(by: -Self.day) }
        }
        for _ in 0..<2 { for id in ids { _ = try await Self.sync(devices[id]!, hub) } }
        try await Self.checkConverged(devices, hub, "skewedAndJumpingClocksConverge")

        // After everything was seen, any new edit of any device wins over everything it saw.
        for id in ids {
            let device = devices[id]!
            device.clock.shift(by: -Self.day)
            let seenMax = try device.store.operations(includingSetAside: false).map(\.operation.timestamp).max()!
            let edit = try await device.store.set(unit: "muong-lay", item: "II.6.c", field: "staff_count", value: "77")
            #expect(edit.timestamp > seenMax, "\(id): a new edit orders before what it saw")
            _ = try await Self.sync(device, hub)
        }
        await hub.stop()
    }
}

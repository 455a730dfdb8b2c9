import Foundation
import InspectorCore
import InspectorHub
import InspectorStore
import InspectorSyncClient
import Synchronization
import Testing

/// `SyncClient.Progress`: the phases of a sync in order, with totals known before the work moves.
@Suite struct SyncProgressTests {
    @Test func phasesComeInOrderWithTheirTotalsFirst() async throws {
        let setup = try await SyncClientTests.Setup()
        let (a, b) = (setup.a, setup.b)
        // Findings: a new device's compact pull (PROTOCOL.md 11.6) leaves none of them out.
        for index in 0..<7 {
            try await b.addFinding(unit: "muong-lay", item: "II.5", kind: .observation, text: "Ghi nhận số \(index)")
        }
        try await b.set(unit: "so-y-te", item: "II.4", field: "status", value: "done")   // not in dev-a's scope
        _ = try await setup.sync(b)
        for value in ["not_started", "in_progress", "done"] {
            try await a.set(unit: "muong-lay", item: "II.4", field: "status", value: value)
        }

        let events = Mutex<[SyncClient.Progress]>([])
        let client = try SyncClient(store: a, batchSize: 2, responseTimeout: .seconds(20)) { event in
            events.withLock { $0.append(event) }
        }
        let summary = try await client.sync()
        #expect(summary.pushed == 3 && summary.pulled == 7)
        let seen = events.withLock { $0 }
        #expect(seen == [
            .connecting,
            .pushing(done: 0, total: 3), .pushing(done: 2, total: 3), .pushing(done: 3, total: 3),
            .pulling(received: 0, total: 7), .pulling(received: 2, total: 7), .pulling(received: 4, total: 7),
            .pulling(received: 6, total: 7), .pulling(received: 7, total: 7),
        ], "\(seen)")

        // Nothing to do: connecting, then a pull of nothing, announced as such.
        events.withLock { $0.removeAll() }
        _ = try await client.sync()
        #expect(events.withLock { $0 } == [.connecting, .pulling(received: 0, total: 0)])
    }

    @Test func moreArrivingDuringThePullGrowsTheTotal() async throws {
        let setup = try await SyncClientTests.Setup()
        let (a, b) = (setup.a, setup.b)
        for index in 0..<3 { try await b.addFinding(unit: "muong-lay", item: "II.5", kind: .observation, text: "Ghi nhận số \(index)") }
        _ = try await setup.sync(b)
        let hubStore = setup.hub.store
        let late = Op.set(device: "dev-b", sequence: 4, timestamp: HLCTimestamp(millis: 1_718_845_320_000, counter: 0, device: "dev-b"),
                          unit: "muong-lay", item: "II.4", field: "status", value: "done")
        let events = Mutex<[SyncClient.Progress]>([])
        let client = try SyncClient(store: a, batchSize: 2, responseTimeout: .seconds(20)) { event in
            // Another device's push lands at the hub after the welcome counted, before the pull.
            if case .pulling(0, _) = event { _ = try? hubStore.replica.merge([late]) }
            events.withLock { $0.append(event) }
        }
        let summary = try await client.sync()
        #expect(summary.pulled == 4)
        let pulls = events.withLock { $0 }.filter { if case .pulling = $0 { true } else { false } }
        #expect(pulls == [.pulling(received: 0, total: 3), .pulling(received: 2, total: 3), .pulling(received: 4, total: 4)], "\(pulls)")
    }
}

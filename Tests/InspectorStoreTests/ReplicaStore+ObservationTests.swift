import Foundation
import InspectorCore
import InspectorStore
import Testing

/// Observing a replica (`ReplicaStore+Observation.swift`): this process's commits, other
/// connections' commits through the data_version probe, and the end of the sequence.
@Suite struct ReplicaStoreObservationTests {
    /// The next `count` datasets of `stream`, or fewer if it ends; no deadline (the test's own limit applies).
    func next(_ count: Int, of iterator: inout AsyncThrowingStream<Dataset, any Error>.AsyncIterator) async throws -> [Dataset] {
        var result: [Dataset] = []
        while result.count < count, let dataset = try await iterator.next() { result.append(dataset) }
        return result
    }

    @Test func theCurrentDatasetThenOneAfterEachChangingCommit() async throws {
        try await withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            try await store.set(unit: "muong-lay", item: "II.4", field: "status", value: "in_progress")
            var iterator = store.observeDataset(unitIDs: ["muong-lay"]).makeAsyncIterator()
            let first = try await next(1, of: &iterator)
            #expect(first.first?.values.map(\.current.value) == ["in_progress"])
            // An edit of another unit changes nothing observed here; the next one does.
            try await store.set(unit: "so-y-te", item: "II.4", field: "status", value: "done")
            try await store.set(unit: "muong-lay", item: "II.4", field: "status", value: "done")
            let second = try await next(1, of: &iterator)
            #expect(second.first?.values.map(\.current.value) == ["done"])
            #expect(second.first.map { $0.changes(since: first[0]).map(\.description) }?.first?.hasPrefix("set muong-lay II.4 status = done (was in_progress;") == true)
            // A merge (what a sync brings in) is observed too.
            let other = try makeStore(in: dir, device: "dev-b", clock: ManualClock(baseMillis + 60_000))
            let finding = try await other.addFinding(unit: "muong-lay", item: "II.4", kind: .observation, text: "Hồ sơ đầy đủ")
            try store.merge([finding])
            let third = try await next(1, of: &iterator)
            #expect(third.first?.findings.map(\.id) == ["dev-b/1"])
        }
    }

    @Test func commitsThroughAnotherConnectionAreSeenWhenPolled() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try makeStore(in: dir, device: "dev-a", clock: clock)
            // Another pool on the same file: to GRDB's observation, as foreign as another process.
            let elsewhere = try ReplicaStore.open(at: dir.appendingPathComponent("dev-a.sqlite").path, clock: clock.read)
            var iterator = store.observeUnit("muong-lay", otherProcessesPolledEvery: .milliseconds(20)).makeAsyncIterator()
            #expect(try await next(1, of: &iterator).first?.values.isEmpty == true)
            try await elsewhere.set(unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
            let seen = try await next(1, of: &iterator)
            #expect(seen.first?.values.map(\.current.value) == ["tot"])
        }
    }

    @Test func cancellingTheTaskEndsTheSequence() async throws {
        try await withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            // The iterating task cancels itself once it has the first dataset: the loop must end.
            let task = Task {
                var count = 0
                for try await _ in store.observeDataset(otherProcessesPolledEvery: .milliseconds(10)) {
                    count += 1
                    withUnsafeCurrentTask { $0?.cancel() }
                }
                return count
            }
            #expect(try await task.value == 1)
        }
    }
}

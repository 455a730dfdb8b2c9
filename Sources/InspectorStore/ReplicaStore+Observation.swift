import GRDB
import InspectorCore

extension ReplicaStore {
    /// Observes the merged dataset: the current one first, then a new one after every committed
    /// change to it — local edits, merged pulls, bundle imports.
    ///
    /// Built on GRDB's `ValueObservation`, which sees every commit made through this process's
    /// stores on the file as it happens. Commits by **other processes** (an `inspector sync` run
    /// from a shell while an app shows the data) reach SQLite without this process knowing; give
    /// `otherProcessesPolledEvery` to notice them too: a read-only connection then checks SQLite's
    /// `PRAGMA data_version` at that interval, a cheap read that changes only when another connection
    /// committed.
    ///
    /// Equal datasets are not repeated. The sequence ends when the task iterating it is cancelled,
    /// and throws if the file cannot be read.
    ///
    /// ```swift
    /// for try await dataset in store.observeDataset(unitIDs: ["muong-lay"]) {
    ///     show(dataset.values)    // a UI would diff, or use ``InspectorCore/Dataset/changes(since:)``
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - unitIDs: the units to include, as in ``dataset(unitIDs:)``; nil for all.
    ///   - interval: how often to look for commits by other processes; nil to see only this
    ///     process's commits.
    public func observeDataset(unitIDs: Set<String>? = nil, otherProcessesPolledEvery interval: Duration? = nil) -> AsyncThrowingStream<Dataset, any Error> {
        let store = self
        return observe(otherProcessesPolledEvery: interval) { db in try store.dataset(db, unitIDs: unitIDs) }
    }

    /// Observes one unit's checklist: its values, findings and conflicts, as ``observeDataset(unitIDs:otherProcessesPolledEvery:)``
    /// with that unit alone.
    public func observeUnit(_ unit: String, otherProcessesPolledEvery interval: Duration? = nil) -> AsyncThrowingStream<Dataset, any Error> {
        observeDataset(unitIDs: [unit], otherProcessesPolledEvery: interval)
    }

    /// Observes any value read from this replica, in the way of ``observeDataset(unitIDs:otherProcessesPolledEvery:)``:
    /// the current value, then a new one after each commit that changes it (equal values are not
    /// repeated). The sync status of `InspectorSyncClient` is observed this way.
    ///
    /// - Parameters:
    ///   - interval: how often to look for commits by other processes; nil for this process's only.
    ///   - value: reads the value; it runs in a read transaction, again after each relevant commit.
    public func observe<Value: Equatable & Sendable>(otherProcessesPolledEvery interval: Duration? = nil,
                                                     _ value: @escaping @Sendable (Database) throws -> Value) -> AsyncThrowingStream<Value, any Error> {
        let writer = self.writer
        let (stream, continuation) = AsyncThrowingStream<Value, any Error>.makeStream()
        // Counted before the observation starts, so that every write transaction that begins from
        // now on notifies it; one already under way is seen by the observation's first read.
        let context = self.context
        context.state.withLock { $0.observations += 1 }
        let task = Task {
            defer { context.state.withLock { $0.observations -= 1 } }
            do {
                let observation = ValueObservation.tracking(value)
                if let interval {
                    // Two sources of changes, one reader: GRDB's observation (this process's commits)
                    // and the data_version probe (anyone's) only say that something changed; one loop
                    // reads and delivers, so values arrive in the order they were read and the last
                    // one delivered is never older than another.
                    let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await _ in observation.values(in: writer) { changed.yield() }
                        }
                        group.addTask {
                            var configuration = Configuration()
                            configuration.readonly = true
                            configuration.busyMode = .timeout(10)
                            let probe = try DatabaseQueue(path: writer.path, configuration: configuration)
                            var version = try await probe.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") }
                            while !Task.isCancelled {
                                try await Task.sleep(for: interval)
                                let now = try await probe.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") }
                                if now != version {
                                    version = now
                                    changed.yield()
                                }
                            }
                        }
                        group.addTask {
                            var last: Value?
                            for await _ in changes {
                                let new = try await writer.read(value)
                                if new != last {
                                    last = new
                                    continuation.yield(new)
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                } else {
                    for try await new in observation.removeDuplicates().values(in: writer) { continuation.yield(new) }
                }
                continuation.finish()
            } catch is CancellationError {
                continuation.finish()
            } catch let error as DatabaseError {
                continuation.finish(throwing: StoreError(.storageFailed, "the replica could not be read (\(error.resultCode)): \(error.message ?? "no detail")"))
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

import Foundation
import InspectorCore
import InspectorPlans
import InspectorStore
import InspectorSyncClient
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses `hub status` for one device: "confirmed up to #C; highest held #H".
func hubDeviceProgress(_ workspace: Workspace, hub database: String, device: String) async throws -> (confirmed: Int64, held: Int64)? {
    let status = try requireSuccess(try await workspace.hub("status", "--db", database))
    let lines = status.lines
    guard let start = lines.firstIndex(where: { $0.hasPrefix("- \(device)") }) else { return nil }
    for line in lines[start...] {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("confirmed up to #") else { continue }
        let parts = trimmed.dropFirst("confirmed up to #".count).components(separatedBy: "; highest held #")
        guard parts.count == 2, let confirmed = Int64(parts[0]), let held = Int64(parts[1]) else { return nil }
        return (confirmed, held)
    }
    return nil
}

extension EndToEnd {
    @Suite("SIGKILL of the hub in the middle of a push")
    struct HubCrashTests {
        static let total = 100_000

        @Test("a push cut by killing the hub resumes where the hub's durable state stopped, and ends as an uninterrupted one")
        func killHubMidPush() async throws {
            var random = SeededGenerator(test: "killHubMidPush")
            try await withWorkspace { ws in
                let plan = try BuiltInPlans.current()
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let token = try await enroll(ws, hub: hubDB, device: "dev-big", units: "muong-lay,muong-ang")
                var hub = try await ws.startHub(hubDB)

                let clock = Date()
                func lap(_ what: String) { print("[killHubMidPush] \(String(format: "%6.2f", Date().timeIntervalSince(clock))) s: \(what)") }
                // The device: 100,000 operations of its own, recorded through the library.
                let device = ws.path("dev-big.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", device, "--device", "dev-big", "--hub", hub.address, "--token", token))
                let ops = syntheticOperations(device: "dev-big", count: Self.total, startMillis: 1_718_000_000_000, plan: plan)
                do {
                    let store = try ReplicaStore.open(at: device)
                    let merged = try store.restoreOwnOperations(ops)
                    try #require(merged.applied == Self.total)
                    let last = try await store.lastSequence(of: "dev-big")
                    try #require(last == Int64(Self.total))
                }

                lap("device replica ready")
                // Sync, and SIGKILL the hub once the device reports a random share of the push acknowledged.
                let threshold = Int.random(in: 20...80, using: &random) * 1000
                let sync = try ws.spawn(Products.inspector, ["sync", "--db", device])
                let progressLine = try await offThread {
                    sync.waitForLine(onStderr: true, timeout: 240) { line in
                        guard let done = Self.pushedProgress(line)?.done else { return false }
                        return done >= threshold
                    }
                }
                let killedAt = Date()
                await hub.kill()
                try #require(progressLine != nil, "the sync never reported \(threshold) pushed: stderr \(sync.stderr), stdout \(sync.stdout)")
                let exited = try await offThread { sync.waitForExit(timeout: 120) }
                try #require(exited, "the sync did not end after the hub died")
                print("[killHubMidPush] hub SIGKILLed at '\(progressLine!.trimmingCharacters(in: .whitespaces))' (threshold \(threshold)); the sync ended \(String(format: "%.2f", Date().timeIntervalSince(killedAt))) s later")
                #expect(sync.status != 0, "the sync reported success although the hub died: \(sync.stdout)")
                let syncError = sync.stderr.joined(separator: "\n")
                #expect(syncError.contains("run sync again to resume"), "the sync's error does not say what to do: \(syncError)")

                lap("sync ended")
                // What the device saved as acknowledged is what it printed last.
                let acknowledged = try await ReplicaStore.open(at: device).syncState().confirmed
                let lastPrinted = sync.stderr.compactMap(Self.pushedProgress).last
                #expect(lastPrinted?.done == Int(acknowledged), "the device saved #\(acknowledged) as confirmed but printed \(String(describing: lastPrinted))")
                #expect(acknowledged >= Int64(threshold) && acknowledged < Int64(Self.total), "acknowledged #\(acknowledged)")

                // The hub's file survived, and holds every acknowledged op (and at most the one batch in flight).
                #expect(try ReplicaStore.open(at: hubDB).integrityCheck() == "ok")
                hub = try await ws.startHub(hubDB)
                let atRestart = try #require(try await hubDeviceProgress(ws, hub: hubDB, device: "dev-big"))
                #expect(atRestart.confirmed >= acknowledged, "the hub lost acknowledged operations: it confirms #\(atRestart.confirmed), the device was told #\(acknowledged)")
                #expect(atRestart.confirmed == atRestart.held, "the hub holds a gap: confirmed #\(atRestart.confirmed), highest #\(atRestart.held)")
                // A batch is at most `SyncClient.defaultBatchSize` ops, fewer when its bytes reach the budget.
                #expect((0...Int64(SyncClient.defaultBatchSize)).contains(atRestart.confirmed - acknowledged),
                        "the hub holds \(atRestart.confirmed - acknowledged) operations beyond the last acknowledgement; at most one batch can be in flight")
                #expect(try await hubOperationCount(ws, hubDB) == Int(atRestart.held))

                lap("hub restarted")
                // Sync again, with the hub's new address: only the remainder is pushed.
                try ReplicaStore.open(at: device).connect(toHubAt: hub.address)
                let again = try await ws.inspector("sync", "--db", device, timeout: 240)
                try requireSuccess(again)
                let remainder = Self.total - Int(atRestart.confirmed)
                #expect(again.stdout.contains("pushed \(remainder), pulled 0"), "\(again)")
                #expect(again.stdout.contains("hub confirmed up to #\(Self.total)"), "\(again)")
                let firstProgress = again.stderr.split(separator: "\n").map(String.init).compactMap(Self.pushedProgress).first
                #expect(firstProgress?.total == remainder, "the second sync planned to push \(String(describing: firstProgress?.total)), not the remainder \(remainder)")
                if atRestart.confirmed == acknowledged {
                    #expect(remainder + Int(acknowledged) == Self.total)
                }
                print("[killHubMidPush] acknowledged before the kill: \(acknowledged); held by the hub at restart: \(atRestart.confirmed); pushed by the second sync: \(remainder) (seed \(random.seed))")

                lap("second sync done")
                let atEnd = try #require(try await hubDeviceProgress(ws, hub: hubDB, device: "dev-big"))
                #expect(atEnd.confirmed == Int64(Self.total) && atEnd.held == Int64(Self.total))
                #expect(try await hubOperationCount(ws, hubDB) == Self.total)
                let status = try requireSuccess(try await ws.inspector("status", "--db", device))
                #expect(status.stdout.contains("everything recorded here is safe at the hub"), "\(status)")

                // The hub's dataset is the one the merge rules give for the 100,000 operations, as an
                // uninterrupted push would have left it; the device sees the same.
                var reference = MergeState()
                for op in ops { reference.apply(op) }
                let expected = reference.dataset(plan: plan, units: plan.units).canonicalJSON()
                let exported = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json"))
                #expect(exported.stdout == expected, "the hub's export differs from the merge of the device's operations")
                let forDevice = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", "dev-big"))
                let deviceExport = try requireSuccess(try await ws.inspector("export", "--json", "--db", device))
                #expect(forDevice.stdoutData == deviceExport.stdoutData, "the device's export differs from the hub's export for it")
                lap("exports compared")
                await hub.stop()
            }
        }

        /// Parses a progress line "  pushed 3000/100000".
        static func pushedProgress(_ line: String) -> (done: Int, total: Int)? {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("pushed ") else { return nil }
            let numbers = trimmed.dropFirst("pushed ".count).split(separator: "/")
            guard numbers.count == 2, let done = Int(numbers[0]), let total = Int(numbers[1]) else { return nil }
            return (done, total)
        }
    }
}

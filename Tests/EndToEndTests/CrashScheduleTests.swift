import Foundation
import InspectorCore
import InspectorPlans
import InspectorStore
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A generator seeded from `INSPECTOR_FAULT_SEED` when set, else from the clock; prints the seed.
private func crashScheduleRandom(_ test: String) -> SeededGenerator {
    let seed = ProcessInfo.processInfo.environment["INSPECTOR_FAULT_SEED"].flatMap { UInt64($0) }
        ?? UInt64(Date().timeIntervalSince1970 * 1_000_000)
    print("[\(test)] random seed \(seed) (replay with INSPECTOR_FAULT_SEED=\(seed))")
    return SeededGenerator(seed: seed)
}

extension EndToEnd {
    @Suite("SIGKILL schedules: the hub during concurrent pushes, a device during its pull")
    struct CrashScheduleTests {
        static let pushers = ["dev-a", "dev-b", "dev-c"]
        static let initialOps = 2000
        static let opsPerRound = 60
        static let hubKills = 50
        static let deviceKills = 8
        static var totalPerDevice: Int { initialOps + hubKills * opsPerRound }

        @Test("50 hub SIGKILLs during three concurrent syncs, then SIGKILLs of a pulling device: nothing acknowledged is lost, all converge")
        func killScheduleConverges() async throws {
            var random = crashScheduleRandom("killScheduleConverges")
            let started = Date()
            func lap(_ what: String) { print("[killScheduleConverges] \(String(format: "%6.2f", Date().timeIntervalSince(started))) s: \(what)") }
            try await withWorkspace { ws in
                let plan = try BuiltInPlans.current()
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                var tokens: [String: String] = [:]
                for device in Self.pushers + ["dev-d"] {
                    tokens[device] = try await enroll(ws, hub: hubDB, device: device, units: "muong-lay,muong-ang")
                }
                var hub = try await ws.startHub(hubDB)
                func db(_ device: String) -> String { ws.path("\(device).sqlite") }

                // Three devices with a few thousand operations each; more are recorded before every round.
                var allOps: [String: [Op]] = [:]
                for (index, device) in Self.pushers.enumerated() {
                    try requireSuccess(try await ws.inspector("init", "--db", db(device), "--device", device, "--hub", hub.address, "--token", tokens[device]!))
                    let ops = syntheticOperations(device: device, count: Self.totalPerDevice, startMillis: 1_718_000_000_000 + Int64(index) * 3, plan: plan)
                    allOps[device] = ops
                    let merged = try ReplicaStore.open(at: db(device)).restoreOwnOperations(Array(ops[0..<Self.initialOps]))
                    try #require(merged.applied == Self.initialOps)
                }
                // dev-d syncs once at enrollment, while the hub is empty: later it is no new device, and
                // its pulls bring the whole log (a new device's compact first sync, PROTOCOL.md 11.6,
                // would bring a few hundred ops of this workload, too few to kill it during its pull).
                try requireSuccess(try await ws.inspector("init", "--db", db("dev-d"), "--device", "dev-d", "--hub", hub.address, "--token", tokens["dev-d"]!))
                try requireSuccess(try await ws.inspector("sync", "--db", db("dev-d")))
                lap("three devices ready")

                // Phase 1: the hub is SIGKILLed a short random time after three syncs start, 50 times.
                var acknowledged: [String: Int64] = [:]
                var completed = 0, failed = 0
                var delays: [Int] = []
                // The kill comes a random time into the syncs, up to `longest` ms: halved after a round
                // that no kill cut (the syncs were faster than the window), doubled after one that cut
                // every sync, so the kills keep landing inside syncs on a fast machine and a slow one.
                var longest = 300
                for kill in 1...Self.hubKills {
                    for device in Self.pushers {
                        let store = try ReplicaStore.open(at: db(device))
                        let range = (Self.initialOps + (kill - 1) * Self.opsPerRound)..<(Self.initialOps + kill * Self.opsPerRound)
                        try #require(try store.restoreOwnOperations(Array(allOps[device]![range])).applied == Self.opsPerRound)
                        try store.connect(toHubAt: hub.address)
                    }
                    let syncs = try Self.pushers.map { try ws.spawn(Products.inspector, ["sync", "--quiet", "--db", db($0)]) }
                    let delay = Int.random(in: 0...longest, using: &random)
                    delays.append(delay)
                    try await Task.sleep(for: .milliseconds(delay))
                    await hub.kill()
                    var cutThisRound = 0
                    for sync in syncs {
                        let exited = try await offThread { sync.waitForExit(timeout: 60) }
                        try #require(exited, "kill \(kill): a sync did not end after the hub died")
                        if sync.status == 0 { completed += 1 } else { failed += 1; cutThisRound += 1 }
                    }
                    if cutThisRound == 0 { longest = max(4, longest / 2) } else if cutThisRound == syncs.count { longest = min(300, longest * 2) }
                    // What each device was told the hub holds (the welcome's and every push's confirmed number).
                    for device in Self.pushers {
                        let told = try await ReplicaStore.open(at: db(device)).syncState().confirmed
                        #expect(told >= (acknowledged[device] ?? 0),
                                "kill \(kill): \(device) was told #\(told) after #\(acknowledged[device] ?? 0) earlier: the hub forgot acknowledged operations")
                        acknowledged[device] = max(acknowledged[device] ?? 0, told)
                    }
                    // The dead hub's file holds every acknowledged operation, each once, without a gap before it.
                    do {
                        let hubReplica = try ReplicaStore.open(at: hubDB)
                        for device in Self.pushers {
                            let held = try hubReplica.operations(device: device).map(\.operation)
                            let contiguous = held.enumerated().prefix { $0.offset + 1 == Int($0.element.sequence) }.count
                            #expect(Int64(contiguous) >= acknowledged[device]!,
                                    "kill \(kill) (after \(delay) ms): the hub holds \(device)'s #1…#\(contiguous) but the device was told #\(acknowledged[device]!)")
                            #expect(Set(held.map(\.sequence)).count == held.count, "kill \(kill): \(device) has a sequence number twice")
                            for op in held.suffix(Self.opsPerRound) {
                                #expect(op == allOps[device]![Int(op.sequence) - 1], "kill \(kill): the hub holds a different op #\(op.sequence) of \(device)")
                            }
                        }
                        if kill % 10 == 0 { #expect(try hubReplica.integrityCheck() == "ok", "kill \(kill)") }
                    }
                    hub = try await ws.startHub(hubDB)
                }
                lap("\(Self.hubKills) hub kills: \(completed) syncs completed before the kill, \(failed) cut; delays \(delays.min()!)…\(delays.max()!) ms (window now \(longest) ms); acknowledged \(acknowledged.sorted { $0.key < $1.key })")
                #expect(failed > 0, "no sync was ever cut by the hub's death")

                // Everyone finishes: every device pushes the rest, then every device pulls everything.
                for _ in 0..<2 {
                    for device in Self.pushers {
                        try ReplicaStore.open(at: db(device)).connect(toHubAt: hub.address)
                        try requireSuccess(try await ws.inspector("sync", "--quiet", "--db", db(device), timeout: 240))
                    }
                }
                lap("pushers finished")
                let hubCount = try await hubOperationCount(ws, hubDB)
                #expect(hubCount == Self.pushers.count * Self.totalPerDevice, "the hub holds \(hubCount) operations")
                do {
                    let hubReplica = try ReplicaStore.open(at: hubDB)
                    for device in Self.pushers {
                        #expect(try hubReplica.operations(device: device).map(\.operation) == allOps[device]!,
                                "the hub's operations of \(device) are not exactly the device's, each once")
                    }
                }

                // Phase 2: dev-d pulls the 15,000 operations and is SIGKILLed at random moments of its pull.
                let pullerDB = db("dev-d")
                try ReplicaStore.open(at: pullerDB).connect(toHubAt: hub.address)   // the hub restarted on another port
                let hubPositions = try ReplicaStore.open(at: hubDB).operations().map { ($0.position, $0.operation) }
                var deviceKillsDone = 0
                var heldBefore = 0
                while deviceKillsDone < Self.deviceKills {
                    let remaining = hubPositions.count - heldBefore
                    if remaining < 3000 { break }
                    let sync = try ws.spawn(Products.inspector, ["sync", "--db", pullerDB])
                    // Half the kills right after a random progress line ("pulled N", from 1,000 on), half 0–5 ms
                    // after the first one: a pull runs at tens of thousands of ops a second, so a kill on a
                    // timer alone lands after most of it.
                    if deviceKillsDone % 2 == 0 {
                        let threshold = Int.random(in: 1...min(2, remaining / 1000 - 1), using: &random) * 1000
                        let line = try await offThread { sync.waitForLine(onStderr: true, timeout: 120) { line in
                            let trimmed = line.trimmingCharacters(in: .whitespaces)
                            // "pulled N/TOTAL"
                            return trimmed.hasPrefix("pulled ") && (Int(trimmed.dropFirst("pulled ".count).prefix { $0 != "/" }) ?? 0) >= threshold
                        } }
                        try #require(line != nil, "the pull never reported \(threshold): \(sync.stderr) \(sync.stdout)")
                    } else {
                        // Once the pull has begun (its first progress line), a moment of 0–5 ms: at tens of
                        // thousands of ops a second, a longer wait lands after most of the pull.
                        let line = try await offThread { sync.waitForLine(onStderr: true, timeout: 120) { line in
                            line.trimmingCharacters(in: .whitespaces).hasPrefix("pulled ")
                        } }
                        try #require(line != nil, "the pull never reported progress: \(sync.stderr) \(sync.stdout)")
                        try await Task.sleep(for: .milliseconds(Int.random(in: 0...5, using: &random)))
                    }
                    let child = sync
                    try await offThread { child.killNow() }
                    deviceKillsDone += 1
                    // The killed replica is sound, and holds exactly the operations before its saved cursor.
                    let store = try ReplicaStore.open(at: pullerDB)
                    #expect(try store.integrityCheck() == "ok", "device kill \(deviceKillsDone)")
                    let cursor = try await store.syncState().pullCursor
                    let held = try store.operations().map(\.operation)
                    let due = hubPositions.filter { $0.0 <= cursor }.map(\.1)
                    #expect(held.count == due.count && Set(held) == Set(due),
                            "device kill \(deviceKillsDone): dev-d holds \(held.count) operations, the hub had \(due.count) up to its cursor \(cursor)")
                    #expect(held.count >= heldBefore, "device kill \(deviceKillsDone): dev-d lost pulled operations")
                    print("[killScheduleConverges] device kill \(deviceKillsDone): dev-d holds \(held.count) of \(hubPositions.count) (cursor \(cursor))")
                    heldBefore = held.count
                }
                #expect(deviceKillsDone >= 4, "only \(deviceKillsDone) device kills")
                // The resumed pull fetches only what is missing.
                let resumed = try requireSuccess(try await ws.inspector("sync", "--quiet", "--db", pullerDB, timeout: 240))
                #expect(resumed.stdout.contains("pushed 0, pulled \(hubPositions.count - heldBefore),"), "\(resumed)")
                lap("\(deviceKillsDone) device kills during the pull")

                // Everything converges: device exports equal the hub's for each device, and the hub equals the merge rules.
                for device in Self.pushers + ["dev-d"] {
                    let forDevice = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", device))
                    let deviceExport = try requireSuccess(try await ws.inspector("export", "--json", "--db", db(device)))
                    #expect(forDevice.stdoutData == deviceExport.stdoutData, "\(device)'s export differs from the hub's export for it")
                }
                var reference = MergeState()
                for ops in allOps.values { for op in ops { reference.apply(op) } }
                let exported = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json"))
                #expect(exported.stdout == reference.dataset(plan: plan, units: plan.units).canonicalJSON(),
                        "the hub's export differs from the merge of every device's operations")
                await hub.stop()
                for file in [hubDB] + (Self.pushers + ["dev-d"]).map(db) {
                    #expect(try ReplicaStore.open(at: file).integrityCheck() == "ok", "\(file)")
                }
                lap("converged (seed \(random.seed))")
            }
        }
    }
}

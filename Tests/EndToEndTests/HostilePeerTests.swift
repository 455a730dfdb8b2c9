import Foundation
import InspectorTestSupport
import InspectorCore
import InspectorPlans
import InspectorProtocol
import InspectorStore
import Testing

// The five defects of issue #10, each with real processes: a hub that must not crash or be
// poisoned by one crafted op, a retraction that must not reach into another unit, clocks years off
// before the first sync, and a device that must not be wedged by one op it cannot store.

/// The current wall clock in ms.
private func wallClock() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// The `timestamp` of one field's current value in a dataset export.
private func valueTimestamp(_ json: Data, unit: String, item: String, field: String) throws -> String? {
    try exportedValue(json, unit: unit, item: item, field: field)?["timestamp"] as? String
}

/// A bundle file holding `ops`, written into the workspace.
private func writeBundle(_ ws: Workspace, _ name: String, device: String, ops: [Op]) throws -> String {
    let path = ws.path(name)
    try SigningKeys.bundle(plan: BuiltInPlans.current().id, device: device, ops: ops).encoded()
        .write(to: URL(fileURLWithPath: path))
    return path
}

/// The op line of a `set` with any `t` and `c`, as a peer may send it.
private func setLine(device: String, sequence: Int64, t: Int64, c: Int64, unit: String = "muong-lay",
                     item: String = "II.4", field: String = "status", value: String = "done") -> String {
    #"{"d":"\#(device)","s":\#(sequence),"t":\#(t),"c":\#(c),"k":"set","u":"\#(unit)","i":"\#(item)","f":"\#(field)","v":"\#(value)"}"#
}

extension EndToEnd {
    @Suite("Hostile peers and honest clocks")
    struct HostilePeerTests {
        func startHub(_ ws: Workspace, devices: [(String, String)]) async throws -> (database: String, hub: HubProcess, tokens: [String: String]) {
            try await ws.startEnrolledHub(devices: devices)
        }

        /// Resolves a field at the hub and checks that the hub stamped it on one of `days` (its clock was not dragged away).
        func expectResolveStamped(_ ws: Workspace, _ hubDB: String, field: String, value: String, on days: [Int64]) async throws {
            try requireSuccess(try await ws.hub("resolve", "--db", hubDB, "--unit", "muong-lay", "--item", "II.4", "--field", field,
                                                "--value", value, "--by", "Lò Văn Thắng"))
            let export = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData
            let stamped = try #require(try valueTimestamp(export, unit: "muong-lay", item: "II.4", field: field))
            #expect(days.contains { stamped.hasPrefix(ISOTime.format(millis: $0).prefix(10)) }, "resolve stamped \(stamped)")
        }

        /// Opens an authenticated raw session for `device`.
        /// Over TLS, with the key `inspector init --db ID.sqlite` makes beside the replica.
        func session(_ hub: HubProcess, device: String, token: String) async throws -> RawLineClient {
            let port = hub.port
            let keyFile = hub.database.replacingOccurrences(of: "hub.sqlite", with: "\(device).sqlite.key")
            let client = try await offThread { try RawLineClient(port: port, line: token, keyFile: keyFile) }
            let welcome = try client.request(#"hello {"version":2,"device":"\#(device)","token":"\#(token)","time":\#(wallClock())}"#)
            try #require(welcome.verb == "welcome", "\(welcome)")
            return client
        }

        @Test("defect 1: an op with a counter at 2^63−1 is refused; the hub, hub bundle import and inspector bundle import live on")
        func counterAtTheInt64BoundaryIsRefused() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await startHub(ws, devices: [("dev-a", "muong-lay")])
                let client = try await session(hub, device: "dev-a", token: tokens["dev-a"]!)
                let ahead = wallClock() + 60_000
                for (t, c) in [(ahead, Int64.max), (ahead, 65_536), (Int64.max, 0), (ahead, -1), (Int64.min, 0), (253_402_300_800_000, 0)] {
                    let answer = try client.request(#"push {"ops":[\#(setLine(device: "dev-a", sequence: 1, t: t, c: c))],"withdrawn":[]}"#)
                    #expect(answer.verb == "error" && answer.body["code"] as? String == "invalid_op", "t=\(t) c=\(c): \(answer)")
                    #expect((answer.body["seq"] as? NSNumber)?.int64Value == 1, "\(answer)")
                }
                // The session and the hub still serve: the boundary values that are valid are taken.
                let valid = try client.request(try client.signedPush([setLine(device: "dev-a", sequence: 1, t: ahead, c: 65_535)]))
                #expect(valid.verb == "pushed", "\(valid)")
                #expect(hub.child.isRunning)
                #expect(try await hubOperationCount(ws, hubDB) == 1)

                // The same op in a bundle: a clear error, nothing imported, no crash, on both sides.
                let op = Op.set(device: "dev-b", sequence: 1, timestamp: HLCTimestamp(millis: ahead, counter: .max, device: "dev-b"),
                                unit: "muong-lay", item: "II.4", field: "status", value: "done")
                let bundle = try writeBundle(ws, "overflow.bundle", device: "dev-b", ops: [op])
                let hubImport = try await ws.hub("bundle", "import", "--db", hubDB, bundle)
                #expect(hubImport.status == 1 && !hubImport.timedOut, "\(hubImport)")
                #expect(hubImport.stderr.contains("counter"), "\(hubImport)")
                let device = ws.path("dev-c.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", device, "--device", "dev-c"))
                try await trustTestKeys(of: ["dev-b"], in: device)
                let deviceImport = try await ws.inspector("bundle", "import", "--db", device, bundle)
                #expect(deviceImport.status == 1 && !deviceImport.timedOut, "\(deviceImport)")
                #expect(deviceImport.stderr.contains("counter"), "\(deviceImport)")
                #expect(try await ws.logLineCount(device) == 0)
                #expect(try await hubOperationCount(ws, hubDB) == 1)
                #expect(await hub.stop())
            }
        }

        @Test("defect 2: an op stamped in year 9999 or at 2^63−1 never poisons a clock; hub resolve stamps today")
        func farFutureOpsNeverPoisonTheClock() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await startHub(ws, devices: [("dev-a", "muong-lay")])
                let client = try await session(hub, device: "dev-a", token: tokens["dev-a"]!)
                let now = wallClock()
                let year9999: Int64 = 253_402_300_799_999
                for t in [year9999, now + 11 * 60_000, now + 366 * 86_400_000] {
                    let answer = try client.request(#"push {"ops":[\#(setLine(device: "dev-a", sequence: 1, t: t, c: 0))],"withdrawn":[]}"#)
                    #expect(answer.verb == "error" && answer.body["code"] as? String == "clock_ahead", "t=\(t): \(answer)")
                    #expect((answer.body["seq"] as? NSNumber)?.int64Value == 1, "\(answer)")
                }
                let overflow = try client.request(#"push {"ops":[\#(setLine(device: "dev-a", sequence: 1, t: .max, c: 0))],"withdrawn":[]}"#)
                #expect(overflow.verb == "error" && overflow.body["code"] as? String == "invalid_op", "\(overflow)")
                // Within the tolerance is fine.
                let near = try client.request(try client.signedPush([setLine(device: "dev-a", sequence: 1, t: now + 9 * 60_000, c: 0)]))
                #expect(near.verb == "pushed", "\(near)")

                // A bundle stamped in the future is refused whole, naming the op.
                let future = Op.set(device: "dev-b", sequence: 1, timestamp: HLCTimestamp(millis: year9999, counter: 0, device: "dev-b"),
                                    unit: "muong-lay", item: "II.4", field: "rating", value: "tot")
                let bundle = try writeBundle(ws, "future.bundle", device: "dev-b", ops: [future])
                let imported = try await ws.hub("bundle", "import", "--db", hubDB, bundle)
                #expect(imported.status == 1 && imported.stderr.contains("clock_ahead") && imported.stderr.contains("dev-b#1"), "\(imported)")
                let device = ws.path("dev-c.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", device, "--device", "dev-c"))
                try await trustTestKeys(of: ["dev-b"], in: device)
                let deviceImport = try await ws.inspector("bundle", "import", "--db", device, bundle)
                #expect(deviceImport.status == 1 && deviceImport.stderr.contains("clock_ahead"), "\(deviceImport)")

                // The hub's own clock stayed near true time.
                try await expectResolveStamped(ws, hubDB, field: "rating", value: "kha", on: [wallClock(), now + 9 * 60_000])
                #expect(await hub.stop())
            }
        }

        @Test("defect 3: a retraction cannot reach a finding of a unit outside the device's scope")
        func retractionsAreScopedByTheirFinding() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await startHub(ws, devices: [("dev-a", "muong-lay"), ("dev-b", "so-y-te")])
                let (tokenA, tokenB) = (tokens["dev-a"]!, tokens["dev-b"]!)
                let b = ws.path("dev-b.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", b, "--device", "dev-b", "--hub", hub.address, "--token", tokenB))
                try requireSuccess(try await ws.inspector("finding", "add", "--db", b, "--unit", "so-y-te", "--item", "II.3",
                                                          "--kind", "good_practice", "--text", "Hồ sơ khen thưởng đầy đủ"))
                try requireSuccess(try await ws.inspector("sync", "--db", b))
                let before = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData

                let client = try await session(hub, device: "dev-a", token: tokenA)
                let now = wallClock()
                func retraction(unit: String, item: String?, finding: String) -> String {
                    let itemKey = item.map { #","i":"\#($0)""# } ?? ""
                    return #"{"d":"dev-a","s":1,"t":\#(now),"c":0,"k":"finding_retract","u":"\#(unit)"\#(itemKey),"n":"\#(finding)","v":"Nhầm đơn vị"}"#
                }
                let cases: [(String, String)] = [
                    (retraction(unit: "muong-lay", item: "II.3", finding: "dev-b/1"), "invalid_op"),
                    (retraction(unit: "muong-lay", item: nil, finding: "dev-b/1"), "invalid_op"),
                    (retraction(unit: "so-y-te", item: "II.3", finding: "dev-b/1"), "out_of_scope"),
                    (retraction(unit: "muong-lay", item: nil, finding: "dev-b/99"), "unknown_finding"),
                ]
                for (op, code) in cases {
                    let answer = try client.request(#"push {"ops":[\#(op)],"withdrawn":[]}"#)
                    #expect(answer.verb == "error" && answer.body["code"] as? String == code, "\(op): \(answer)")
                    #expect((answer.body["seq"] as? NSNumber)?.int64Value == 1, "\(answer)")
                }
                let after = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData
                #expect(after == before, "the hub's dataset changed")
                // dev-b and the hub agree.
                try requireSuccess(try await ws.inspector("sync", "--db", b))
                let deviceView = try requireSuccess(try await ws.inspector("export", "--db", b, "--json")).stdoutData
                let hubView = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", "dev-b")).stdoutData
                #expect(deviceView == hubView)
                #expect(await hub.stop())
            }
        }

        @Test("defect 4: devices 10 years fast and 10 years slow that never synced: the later edit in true time wins everywhere")
        func clocksYearsOffBeforeTheFirstSync() async throws {
            guard let faketime = ["/usr/bin/faketime", "/usr/local/bin/faketime"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
                Issue.record("faketime is not installed (apt-get install faketime; .ci/run installs it)")
                return
            }
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await startHub(ws, devices: ["dev-c", "dev-f", "dev-s"].map { ($0, "muong-lay") })
                var databases: [String: String] = [:]
                for device in ["dev-c", "dev-f", "dev-s"] {
                    databases[device] = ws.path("\(device).sqlite")
                    try requireSuccess(try await ws.inspector("init", "--db", databases[device]!, "--device", device, "--hub", hub.address,
                                                              "--token", tokens[device]!))
                }
                let skew = ["dev-c": nil, "dev-f": "+3650d", "dev-s": "-3650d"]
                func inspector(_ device: String, _ arguments: String...) async throws -> CommandResult {
                    let full = ["--db", databases[device]!]
                    let command = [arguments[0]] + (arguments[0] == "finding" ? [arguments[1]] + full + arguments.dropFirst(2) : full + arguments.dropFirst())
                    guard let offset = skew[device] ?? nil else { return try await ws.inspector(arguments: command) }
                    // libfaketime shifts the wall clock only; timeouts keep the real monotonic clock.
                    return try await run("/usr/bin/env", ["FAKETIME_DONT_FAKE_MONOTONIC=1", faketime, "-f", offset, Products.inspector] + command,
                                         in: ws.directory)
                }
                // In true time, one after the other (each command takes well over a millisecond):
                try requireSuccess(try await inspector("dev-f", "set", "muong-lay", "II.4", "status", "in_progress"))
                try requireSuccess(try await inspector("dev-c", "set", "muong-lay", "II.4", "status", "done"))       // later: wins
                try requireSuccess(try await inspector("dev-c", "set", "muong-lay", "II.4", "rating", "tot"))
                try requireSuccess(try await inspector("dev-f", "set", "muong-lay", "II.4", "rating", "kha"))        // later: wins
                try requireSuccess(try await inspector("dev-c", "set", "muong-lay", "II.5", "fund_percent", "10"))
                try requireSuccess(try await inspector("dev-s", "set", "muong-lay", "II.5", "fund_percent", "20"))   // later: wins
                try requireSuccess(try await inspector("dev-s", "set", "muong-lay", "II.4", "note", "Ghi chú của thiết bị chậm"))
                try requireSuccess(try await inspector("dev-c", "set", "muong-lay", "II.4", "note", "Ghi chú của thiết bị đúng giờ")) // later: wins
                try requireSuccess(try await inspector("dev-f", "finding", "add", "--unit", "muong-lay", "--item", "II.3", "--kind", "observation",
                                                       "--text", "Ghi nhận của thiết bị nhanh"))
                // Sync in an order that would let the fast device win if its clock were trusted.
                for device in ["dev-f", "dev-s", "dev-c", "dev-f", "dev-s"] {
                    let synced = try requireSuccess(try await inspector(device, "sync"))
                    if device != "dev-c" && synced.stdout.contains("pushed") && !synced.stdout.contains("pushed 0") {
                        #expect(synced.stdout.contains("corrected the time of"), "\(device): \(synced)")
                    }
                }
                let export = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData
                let expected = [("II.4", "status", "done", "dev-c"), ("II.4", "rating", "kha", "dev-f"),
                                ("II.5", "fund_percent", "20", "dev-s"), ("II.4", "note", "Ghi chú của thiết bị đúng giờ", "dev-c")]
                for (item, field, value, device) in expected {
                    let current = try #require(try exportedValue(export, unit: "muong-lay", item: item, field: field))
                    #expect(current["device"] as? String == device, "\(item) \(field): \(current)")
                    #expect("\(current["value"] ?? "")" == value, "\(item) \(field): \(current)")
                    let stamped = current["timestamp"] as? String ?? ""
                    #expect(stamped.hasPrefix(String(ISOTime.format(millis: wallClock()).prefix(4))), "\(item) \(field) stamped \(stamped)")
                }
                // The earlier edits are in the conflict ledger.
                let object = try #require(try JSONSerialization.jsonObject(with: export) as? [String: Any])
                let conflicts = object["conflicts"] as? [[String: Any]] ?? []
                #expect(conflicts.count == 4, "\(conflicts)")
                for conflict in conflicts {
                    let losers = conflict["losers"] as? [[String: Any]] ?? []
                    #expect(losers.count == 1, "\(conflict)")
                }
                // Every device holds the hub's view of it, and the hub's clock is today's.
                for device in ["dev-c", "dev-f", "dev-s"] {
                    let mine = try requireSuccess(try await inspector(device, "export", "--json")).stdoutData
                    let hubs = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", device)).stdoutData
                    #expect(mine == hubs, "\(device)'s export differs from the hub's view of it")
                }
                try await expectResolveStamped(ws, hubDB, field: "status", value: "done", on: [wallClock()])
                #expect(await hub.stop())
            }
        }

        @Test("defect 5: a pulled op the device cannot store is held back and reported; the rest flows and the device is never wedged")
        func unstorablePulledOpIsHeldBack() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await startHub(ws, devices: [("dev-a", "muong-lay"), ("dev-b", "muong-lay")])
                let (tokenA, tokenB) = (tokens["dev-a"]!, tokens["dev-b"]!)
                let a = ws.path("dev-a.sqlite"), b = ws.path("dev-b.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a", "--hub", hub.address, "--token", tokenA))
                try requireSuccess(try await ws.inspector("init", "--db", b, "--device", "dev-b", "--hub", hub.address, "--token", tokenB))
                try requireSuccess(try await ws.inspector("set", "--db", b, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("sync", "--db", b))
                // A hub whose rules differ from this device's (a newer version): it holds a value the
                // device's plan refuses, between two ordinary ops (written into its file by hand).
                let now = wallClock()
                try requireSuccess(try await run("/usr/bin/sqlite3", [hubDB, """
                    INSERT INTO ops (device, seq, hlc, kind, unit, item, field, finding, finding_kind, value)
                    VALUES ((SELECT id FROM names WHERE name = 'dev-b'), 1000, \(HLCTimestamp(millis: now, counter: 0, device: "dev-b").packed),
                            0, (SELECT id FROM names WHERE name = 'muong-lay'), (SELECT id FROM names WHERE name = 'II.4'),
                            (SELECT id FROM names WHERE name = 'status'), NULL, NULL, 'finished');
                    """]))
                try requireSuccess(try await ws.inspector("set", "--db", b, "muong-lay", "II.4", "rating", "tot"))
                try requireSuccess(try await ws.inspector("sync", "--db", b))

                for round in 1...2 {
                    let synced = try requireSuccess(try await ws.inspector("sync", "--db", a))
                    if round == 1 {
                        #expect(synced.stdout.contains("pulled 2"), "\(synced)")
                        #expect(synced.stdout.contains("held back dev-b#1000") && synced.stdout.contains("invalid_value"), "\(synced)")
                    } else {
                        #expect(synced.stdout.contains("pulled 0"), "\(synced)")
                    }
                    let status = try requireSuccess(try await ws.inspector("status", "--db", a))
                    #expect(status.stdout.contains("held back: dev-b#1000"), "\(status)")
                }
                // The rest flowed: dev-a holds dev-b's two valid ops and goes on syncing its own.
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.5", "fund_percent", "12,5"))
                let pushed = try requireSuccess(try await ws.inspector("sync", "--db", a))
                #expect(pushed.stdout.contains("pushed 1"), "\(pushed)")
                let view = try requireSuccess(try await ws.inspector("export", "--db", a, "--json")).stdoutData
                #expect(try exportedValue(view, unit: "muong-lay", item: "II.4", field: "rating")?["value"] as? String == "tot")
                #expect(try exportedValue(view, unit: "muong-lay", item: "II.4", field: "status")?["value"] as? String == "done")
                // The office sees it.
                let status = try requireSuccess(try await ws.hub("status", "--db", hubDB))
                #expect(status.stdout.contains("holds back 1 pulled operation") && status.stdout.contains("dev-b#1000 (invalid_value)"), "\(status)")
                #expect(await hub.stop())
            }
        }
    }
}

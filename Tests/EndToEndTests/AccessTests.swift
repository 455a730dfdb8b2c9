import Foundation
import InspectorCore
import InspectorStore
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension EndToEnd {
    @Suite("Who may write and read what")
    struct AccessTests {
        @Test("an op on an unassigned unit, made before the device knew its scope, is refused, set aside and reported; the rest flows")
        func unassignedUnitIsSetAside() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let hub = try await ws.startHub(hubDB)
                let tokenA = try await enroll(ws, hub: hubDB, device: "dev-a", units: "muong-lay")
                let tokenB = try await enroll(ws, hub: hubDB, device: "dev-b", units: "muong-lay")
                let a = ws.path("dev-a.sqlite"), b = ws.path("dev-b.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a", "--hub", hub.address, "--token", tokenA))
                try requireSuccess(try await ws.inspector("init", "--db", b, "--device", "dev-b", "--hub", hub.address, "--token", tokenB))

                // Before its first sync the device does not know its scope, so it records all three.
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-ang", "II.4", "status", "in_progress"))
                try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--item", "II.5",
                                                          "--kind", "recommendation", "--text", "Đề nghị công khai quỹ thi đua"))
                let first = try await ws.inspector("sync", "--db", a)
                expectSuccess(first)
                #expect(first.stdout.contains("set aside #2: the hub refused it (out_of_scope)"), "\(first)")
                #expect(first.stdout.contains("muong-ang"), "\(first)")
                #expect(first.stdout.contains("hub confirmed up to #3"), "\(first)")
                let status = try requireSuccess(try await ws.inspector("status", "--db", a))
                #expect(status.stdout.contains("set aside: #2 refused by the hub (out_of_scope)"), "\(status)")
                #expect(status.stdout.contains("everything recorded here is safe at the hub"), "\(status)")
                #expect(try await hubOperationCount(ws, hubDB) == 2)
                let atHub = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json"))
                #expect(try exportedValue(atHub.stdoutData, unit: "muong-ang", item: "II.4", field: "status") == nil, "the hub took the refused op")
                #expect(try exportedValue(atHub.stdoutData, unit: "muong-lay", item: "II.4", field: "status")?["value"] as? String == "done")

                // Now that it knows its scope, the device refuses such an edit at once, writing nothing.
                let before = try await ws.logLineCount(a)
                let refused = try await ws.inspector("set", "--db", a, "muong-ang", "II.4", "status", "done")
                #expect(refused.status != 0 && refused.stderr.contains("not assigned to this device"), "\(refused)")
                #expect(try await ws.logLineCount(a) == before)

                // More work, then a normal sync: exit 0, the new ops flow past the set-aside one.
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "rating", "tot"))
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.5", "fund_percent", "35"))
                let second = try await ws.inspector("sync", "--db", a)
                expectSuccess(second)
                #expect(second.stdout.contains("pushed 2, pulled 0"), "\(second)")
                #expect(second.stdout.contains("hub confirmed up to #5"), "\(second)")
                #expect(!second.stdout.contains("set aside #"), "the set-aside op was reported again as newly refused: \(second)")
                #expect(try await hubOperationCount(ws, hubDB) == 4)
                let statusAfter = try requireSuccess(try await ws.inspector("status", "--db", a))
                #expect(statusAfter.stdout.contains("everything recorded here is safe at the hub"), "\(statusAfter)")

                // The other device of the unit gets dev-a's accepted ops, and not the refused one.
                let pulled = try requireSuccess(try await ws.inspector("sync", "--db", b))
                #expect(pulled.stdout.contains("pulled 4"), "\(pulled)")
                let logB = try requireSuccess(try await ws.inspector("log", "--db", b))
                #expect(!loggedUnits(logB).contains("muong-ang"))
                for (id, database) in [("dev-a", a), ("dev-b", b)] {
                    let local = try requireSuccess(try await ws.inspector("export", "--json", "--db", database))
                    let forDevice = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", id))
                    #expect(local.stdoutData == forDevice.stdoutData, "\(id): its export differs from the hub's export for it")
                }
                await hub.stop()
            }
        }

        @Test("a wrong token, an unknown device and a revoked device are refused at the handshake; nothing is applied")
        func badCredentialsAreRefused() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let hub = try await ws.startHub(hubDB)
                let tokenA = try await enroll(ws, hub: hubDB, device: "dev-a", units: "muong-lay")
                let tokenR = try await enroll(ws, hub: hubDB, device: "dev-r", units: "muong-lay")
                let a = ws.path("dev-a.sqlite"), r = ws.path("dev-r.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a", "--hub", hub.address, "--token", tokenA))
                try requireSuccess(try await ws.inspector("init", "--db", r, "--device", "dev-r", "--hub", hub.address, "--token", tokenR))
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("sync", "--db", r))
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "rating", "kha"))
                try requireSuccess(try await ws.inspector("sync", "--db", a))
                let heldBefore = try await hubOperationCount(ws, hubDB)
                #expect(heldBefore == 2)
                let exportBefore = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData

                // A replica of dev-a with a wrong secret (the right length, one digit changed; the hub key
                // pinned right), and one of an unknown device.
                let secretA = try #require(tokenA.split(separator: "@").first)
                let wrong = String(secretA.dropLast()) + (secretA.last == "0" ? "1" : "0") + tokenA.dropFirst(secretA.count)
                let impostor = ws.path("impostor.sqlite"), stranger = ws.path("stranger.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", impostor, "--device", "dev-a", "--hub", hub.address, "--token", wrong))
                try requireSuccess(try await ws.inspector("init", "--db", stranger, "--device", "dev-x", "--hub", hub.address, "--token", tokenA))
                // dev-r is revoked while the hub runs, then tries to sync a new op.
                try requireSuccess(try await ws.hub("device", "revoke", "--db", hubDB, "--device", "dev-r"))
                try requireSuccess(try await ws.inspector("set", "--db", r, "muong-lay", "II.4", "status", "in_progress"))
                for database in [impostor, stranger] {
                    try requireSuccess(try await ws.inspector("set", "--db", database, "muong-lay", "II.4", "status", "not_started"))
                }
                for (what, database) in [("wrong token", impostor), ("unknown device", stranger), ("revoked device", r)] {
                    let logBefore = try requireSuccess(try await ws.inspector("log", "--db", database)).stdout
                    let sync = try await ws.inspector("sync", "--db", database)
                    #expect(sync.status != 0, "\(what): \(sync)")
                    #expect(sync.stderr.contains("unauthorized"), "\(what): \(sync)")
                    #expect(!sync.stderr.contains(tokenA) && !sync.stderr.contains(tokenR) && !sync.stderr.contains(wrong),
                            "\(what): the error repeats a token")
                    #expect(try await hubOperationCount(ws, hubDB) == heldBefore, "\(what): the hub applied something")
                    #expect(try requireSuccess(try await ws.inspector("log", "--db", database)).stdout == logBefore, "\(what): the device pulled something")
                }
                #expect(try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData == exportBefore)
                let hubStatus = try requireSuccess(try await ws.hub("status", "--db", hubDB))
                #expect(hubStatus.stdout.contains("- dev-r REVOKED"), "\(hubStatus)")
                #expect(hub.child.isRunning, "the hub stopped serving")
                // The real dev-a still syncs.
                try requireSuccess(try await ws.inspector("sync", "--db", a))
                await hub.stop()
            }
        }

        @Test("a device never receives data of units it is not assigned to")
        func noForeignUnitData() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                try requireSuccess(try await ws.hub("unit", "add", "--db", hubDB, "--id", "muong-ang.xa-ang-to", "--name", "UBND xã Ẳng Tở",
                                                    "--kind", "direct", "--parent", "muong-ang"))
                try requireSuccess(try await ws.hub("unit", "add", "--db", hubDB, "--id", "muong-lay.lay-nua", "--name", "UBND xã Lay Nưa",
                                                    "--kind", "direct", "--parent", "muong-lay"))
                let hub = try await ws.startHub(hubDB)
                let tokenX = try await enroll(ws, hub: hubDB, device: "dev-x", units: "muong-ang,so-y-te")
                let tokenA = try await enroll(ws, hub: hubDB, device: "dev-a", units: "muong-lay")
                let x = ws.path("dev-x.sqlite"), a = ws.path("dev-a.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", x, "--device", "dev-x", "--hub", hub.address, "--token", tokenX))
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a", "--hub", hub.address, "--token", tokenA))
                try requireSuccess(try await ws.inspector("sync", "--db", x))
                // Before its first sync dev-a does not know the sub-unit of its unit.
                let early = try await ws.inspector("set", "--db", a, "muong-lay.lay-nua", "II.4", "status", "done")
                #expect(early.status != 0 && early.stderr.contains("unknown unit 'muong-lay.lay-nua'"), "\(early)")
                let first = try await ws.inspector("sync", "--db", a)
                expectSuccess(first)
                #expect(first.stdout.contains("pulled 0"), "\(first)")

                // dev-x fills the hub with other units' data, each marked with a text found nowhere else.
                let marker = "BÍ-MẬT-KHÔNG-ĐƯỢC-LỘ"
                for unit in ["muong-ang", "so-y-te", "muong-ang.xa-ang-to"] {
                    try requireSuccess(try await ws.inspector("set", "--db", x, unit, "II.4", "note", "\(marker) \(unit)"))
                    try requireSuccess(try await ws.inspector("set", "--db", x, unit, "II.4", "status", "done"))
                    try requireSuccess(try await ws.inspector("finding", "add", "--db", x, "--unit", unit, "--kind", "shortcoming",
                                                              "--text", "\(marker): hồ sơ của \(unit)"))
                }
                try requireSuccess(try await ws.inspector("sync", "--db", x))
                // It learned the sub-unit at its first sync, and writes there now.
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "status", "in_progress"))
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay.lay-nua", "II.4", "status", "done"))
                let second = try requireSuccess(try await ws.inspector("sync", "--db", a))
                #expect(second.stdout.contains("pushed 2, pulled 0"), "\(second)")
                try requireSuccess(try await ws.inspector("sync", "--db", x))
                let third = try requireSuccess(try await ws.inspector("sync", "--db", a))
                #expect(third.stdout.contains("pulled 0"), "\(third)")
                #expect(try await hubOperationCount(ws, hubDB) == 9 + 2)

                let log = try requireSuccess(try await ws.inspector("log", "--db", a))
                #expect(Set(loggedUnits(log)).isSubset(of: ["muong-lay", "muong-lay.lay-nua"]), "\(log)")
                #expect(!log.stdout.contains(marker))
                let export = try requireSuccess(try await ws.inspector("export", "--json", "--db", a))
                #expect(!export.stdout.contains(marker))
                let object = try #require(try JSONSerialization.jsonObject(with: export.stdoutData) as? [String: Any])
                let units = (object["units"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(units == ["muong-lay", "muong-lay.lay-nua"], "dev-a's export lists units \(units)")
                // Not even the replica's bytes hold the other units' data (nor the names of sub-units it was not given).
                for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: a + suffix) {
                    let raw = try Data(contentsOf: URL(fileURLWithPath: a + suffix))
                    #expect(!contains(raw, bytes(marker)), "dev-a\(suffix) holds another unit's data")
                    #expect(!contains(raw, bytes(Text.nfc("Ẳng Tở"))), "dev-a\(suffix) holds the name of a sub-unit it is not assigned to")
                }
                let show = try requireSuccess(try await ws.inspector("show", "--db", a))
                #expect(!show.stdout.contains(marker) && !show.stdout.contains("so-y-te"), "\(show)")
                await hub.stop()
            }
        }

        @Test("ops pushed under another device's id are refused on the wire, and the connection keeps serving")
        func foreignDeviceOpsAreRefused() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let hub = try await ws.startHub(hubDB)
                let tokenA = try await enroll(ws, hub: hubDB, device: "dev-a", units: "muong-lay")
                let tokenB = try await enroll(ws, hub: hubDB, device: "dev-b", units: "muong-lay")
                // dev-b has two ops at the hub, through the real CLI.
                let b = ws.path("dev-b.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", b, "--device", "dev-b", "--hub", hub.address, "--token", tokenB))
                try requireSuccess(try await ws.inspector("set", "--db", b, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("set", "--db", b, "muong-lay", "II.4", "rating", "tot"))
                try requireSuccess(try await ws.inspector("sync", "--db", b))
                #expect(try await hubOperationCount(ws, hubDB) == 2)
                let exportBefore = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData

                let port = hub.port
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let keyFile = ws.path("dev-a.sqlite.key")
                let client = try await offThread { try RawLineClient(port: port, line: tokenA, keyFile: keyFile) }
                let welcome = try client.request(#"hello {"version":2,"device":"dev-a","token":"\#(tokenA)","time":\#(now)}"#)
                try #require(welcome.verb == "welcome", "\(welcome)")
                #expect(welcome.body["scope"] as? [String] == ["muong-lay"])

                // dev-a pushes an op that claims to be dev-b's #3 (the next one dev-b would make).
                let forged = #"{"d":"dev-b","s":3,"t":\#(now),"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"not_started"}"#
                let answer = try client.request(#"push {"ops":[\#(forged)],"withdrawn":[]}"#)
                #expect(answer.verb == "error", "\(answer)")
                #expect(answer.body["code"] as? String == "foreign_device", "\(answer)")
                #expect((answer.body["seq"] as? NSNumber)?.int64Value == 3, "\(answer)")
                #expect((answer.body["message"] as? String)?.isEmpty == false)
                #expect(try await hubOperationCount(ws, hubDB) == 2)

                // A batch mixing an own op with a forged one is refused whole.
                let own = #"{"d":"dev-a","s":1,"t":\#(now),"c":0,"k":"set","u":"muong-lay","i":"II.5","f":"fund_percent","v":"10"}"#
                let mixed = try client.request(#"push {"ops":[\#(own),\#(forged)],"withdrawn":[]}"#)
                #expect(mixed.verb == "error" && mixed.body["code"] as? String == "foreign_device", "\(mixed)")
                #expect(try await hubOperationCount(ws, hubDB) == 2)
                #expect(try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData == exportBefore)

                // The same connection still serves: a pull returns dev-b's ops, an own push is taken.
                let pulled = try client.request(#"pull {"cursor":0}"#)
                #expect(pulled.verb == "ops", "\(pulled)")
                let ops = pulled.body["ops"] as? [[String: Any]] ?? []
                #expect(ops.count == 2 && ops.allSatisfy { $0["d"] as? String == "dev-b" }, "\(pulled)")
                #expect(pulled.body["more"] as? Bool == false)
                let pushed = try client.request(try client.signedPush([own]))
                #expect(pushed.verb == "pushed", "\(pushed)")
                #expect((pushed.body["confirmed"] as? NSNumber)?.intValue == 1 && (pushed.body["applied"] as? NSNumber)?.intValue == 1, "\(pushed)")
                let bye = try client.request("bye {}")
                #expect(bye.verb == "bye")
                #expect(try await hubOperationCount(ws, hubDB) == 3)

                // dev-b's own next op, #3, is still its own to push.
                try requireSuccess(try await ws.inspector("set", "--db", b, "muong-lay", "II.4", "status", "in_progress"))
                let synced = try requireSuccess(try await ws.inspector("sync", "--db", b))
                #expect(synced.stdout.contains("pushed 1, pulled 1"), "\(synced)")
                await hub.stop()
            }
        }
    }
}

import Foundation
import InspectorCore
import InspectorPlans
import InspectorStore
import InspectorSyncClient
import Testing

/// One device of a scenario: its replica and what the test knows it can write.
struct DeviceUnderTest {
    let id: String
    let database: String
    let assigned: [String]
    var scope: [String]
    var createdOps = 0
    var visibleFindings: [String] = []
}

/// The `values` entry of a dataset JSON export for one field, parsed.
func exportedValue(_ json: Data, unit: String, item: String, field: String) throws -> [String: Any]? {
    let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
    let values = try #require(object["values"] as? [[String: Any]])
    return values.first { $0["unit"] as? String == unit && $0["item"] as? String == item && $0["field"] as? String == field }
}

/// The finding ids of a dataset JSON export.
func exportedFindings(_ json: Data) throws -> [String] {
    let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
    return (object["findings"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
}

/// The unit of every line `inspector log` prints (its fifth column starts with the unit).
func loggedUnits(_ log: CommandResult) -> [String] {
    log.lines.compactMap { line in
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard columns.count >= 5 else { return nil }
        return columns[4].split(separator: " ").first.map(String.init)
    }
}

extension EndToEnd {
    @Suite("Hub sync between real processes")
    struct HubSyncTests {
        static let texts = [
            "Hồ sơ khen thưởng lưu trữ đầy đủ, đúng quy định",
            "Chưa kịp thời cập nhật danh sách cá nhân được khen",
            "Quỹ thi đua được trích lập đúng tỷ lệ",
            "Đề nghị bổ sung biên bản họp Hội đồng Thi đua - Khen thưởng",
            "Mô hình “Dân vận khéo” được nhân rộng ở các xã, phường",
        ]

        @Test("three devices with overlapping units, offline edits and random sync orders converge to the hub's view")
        func threeDevicesConverge() async throws {
            var random = SeededGenerator(test: "threeDevicesConverge")
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                try requireSuccess(try await ws.hub("unit", "add", "--db", hubDB, "--id", "muong-lay.na-lay", "--name", "UBND phường Na Lay",
                                                    "--kind", "direct", "--parent", "muong-lay"))
                let assignments = [("dev-a", ["muong-lay"]), ("dev-b", ["muong-lay", "muong-ang"]), ("dev-c", ["muong-ang"])]
                let hub = try await ws.startHub(hubDB)
                var devices: [DeviceUnderTest] = []
                for (id, units) in assignments {
                    let token = try await enroll(ws, hub: hubDB, device: id, units: units.joined(separator: ","))
                    let database = ws.path("\(id).sqlite")
                    try requireSuccess(try await ws.inspector("init", "--db", database, "--device", id, "--hub", hub.address, "--token", token))
                    devices.append(DeviceUnderTest(id: id, database: database, assigned: units, scope: units))
                }
                let expectedScopes = ["dev-a": ["muong-lay", "muong-lay.na-lay"], "dev-b": ["muong-ang", "muong-lay", "muong-lay.na-lay"], "dev-c": ["muong-ang"]]

                // A small pool of fields, so that devices sharing a unit edit the same ones.
                let fields: [(item: String, field: String, values: [String])] = [
                    ("II.4", "status", ["not_started", "in_progress", "done"]),
                    ("II.4", "rating", ["tot", "kha", "trung_binh"]),
                    ("II.5", "fund_percent", ["12,5", "40", "7.25", "100"]),
                    ("II.6.c", "staff_count", ["3", "04", "12"]),
                    ("II.4", "note", Self.texts),
                ]
                let rounds = 5
                for round in 0..<rounds {
                    for index in devices.indices {
                        for _ in 0..<Int.random(in: 3...6, using: &random) {
                            let unit = devices[index].scope.randomElement(using: &random)!
                            let dice = Int.random(in: 0..<100, using: &random)
                            let result: CommandResult
                            if dice < 60 {
                                let target = fields.randomElement(using: &random)!
                                result = try await ws.inspector("set", "--db", devices[index].database, unit, target.item, target.field,
                                                                target.values.randomElement(using: &random)!)
                            } else if dice < 85 || devices[index].visibleFindings.isEmpty {
                                let kind = FindingKind.allCases.randomElement(using: &random)!.rawValue
                                result = try await ws.inspector("finding", "add", "--db", devices[index].database, "--unit", unit, "--item", "II.4",
                                                                "--kind", kind, "--text", Self.texts.randomElement(using: &random)! + " (vòng \(round))")
                                if result.succeeded, let id = result.lines.last { devices[index].visibleFindings.append(id) }
                            } else {
                                let id = devices[index].visibleFindings.randomElement(using: &random)!
                                result = try await ws.inspector("finding", "retract", "--db", devices[index].database, id,
                                                                "--reason", "Trùng lặp với phát hiện khác (vòng \(round))")
                            }
                            try requireSuccess(result)
                            devices[index].createdOps += 1
                        }
                    }
                    // Devices come into coverage in a random order; some stay offline this round.
                    var order = Array(devices.indices).shuffled(using: &random)
                    if round < rounds - 1 { order = order.filter { _ in Int.random(in: 0..<4, using: &random) > 0 } }
                    print("[threeDevicesConverge] round \(round): sync order \(order.map { devices[$0].id })")
                    for index in order {
                        let synced = try requireSuccess(try await ws.inspector("sync", "--db", devices[index].database))
                        #expect(!synced.stdout.contains("set aside"), "\(synced)")
                        devices[index].scope = expectedScopes[devices[index].id]!
                        let export = try requireSuccess(try await ws.inspector("export", "--json", "--db", devices[index].database))
                        devices[index].visibleFindings = try exportedFindings(export.stdoutData)
                    }
                }
                // Everyone syncs twice more, in random orders: after the first pass the hub holds everything.
                for pass in 0..<2 {
                    let order = Array(devices.indices).shuffled(using: &random)
                    print("[threeDevicesConverge] final pass \(pass): sync order \(order.map { devices[$0].id })")
                    for index in order { try requireSuccess(try await ws.inspector("sync", "--db", devices[index].database)) }
                }

                // Each device's export is byte for byte the hub's export for that device.
                for device in devices {
                    let local = try requireSuccess(try await ws.inspector("export", "--json", "--db", device.database))
                    let atHub = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", device.id))
                    #expect(local.stdoutData == atHub.stdoutData, "\(device.id): its export differs from the hub's export for it")
                    let status = try requireSuccess(try await ws.inspector("status", "--db", device.database))
                    #expect(status.stdout.contains("everything recorded here is safe at the hub"), "\(status)")
                    #expect(status.stdout.contains("assigned units: \(expectedScopes[device.id]!.joined(separator: ", "))"), "\(status)")
                    // A device holds nothing of units it is not assigned to.
                    let log = try requireSuccess(try await ws.inspector("log", "--db", device.database))
                    let foreign = Set(loggedUnits(log)).subtracting(expectedScopes[device.id]!)
                    #expect(foreign.isEmpty, "\(device.id) holds operations of \(foreign)")
                }
                let total = devices.map(\.createdOps).reduce(0, +)
                #expect(try await hubOperationCount(ws, hubDB) == total)
                print("[threeDevicesConverge] \(total) operations by \(devices.map { "\($0.id): \($0.createdOps)" }.joined(separator: ", ")) (seed \(random.seed))")

                // The hub's dataset is what the merge rules give for every device's operations.
                await hub.stop()
                let hubExport = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json"))
                var reference = MergeState()
                for device in devices {
                    for (_, op) in try ReplicaStore.open(at: device.database).operations(device: device.id) { reference.apply(op) }
                }
                let hubReplica = try ReplicaStore.open(at: hubDB)
                #expect(reference.count == total)
                #expect(hubExport.stdout == reference.dataset(plan: hubReplica.plan, units: hubReplica.units).canonicalJSON(),
                        "the hub's export differs from the merge of every device's operations")
            }
        }

        @Test("of two offline edits of one field, the later one wins everywhere, even when it syncs first")
        func laterEditWins() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let hub = try await ws.startHub(hubDB)
                var databases: [String: String] = [:]
                for id in ["dev-a", "dev-b"] {
                    let token = try await enroll(ws, hub: hubDB, device: id, units: "muong-lay")
                    databases[id] = ws.path("\(id).sqlite")
                    try requireSuccess(try await ws.inspector("init", "--db", databases[id]!, "--device", id, "--hub", hub.address, "--token", token))
                }
                // dev-a edits first; two seconds later dev-b edits the same field; dev-b syncs first.
                try requireSuccess(try await ws.inspector("set", "--db", databases["dev-a"]!, "muong-lay", "II.4", "rating", "kha"))
                try await Task.sleep(for: .seconds(2))
                try requireSuccess(try await ws.inspector("set", "--db", databases["dev-b"]!, "muong-lay", "II.4", "rating", "tot"))
                try requireSuccess(try await ws.inspector("sync", "--db", databases["dev-b"]!))
                let lateSync = try requireSuccess(try await ws.inspector("sync", "--db", databases["dev-a"]!))
                #expect(lateSync.stdout.contains("pushed 1, pulled 1, new conflicts 1"), "\(lateSync)")
                try requireSuccess(try await ws.inspector("sync", "--db", databases["dev-b"]!))

                let hubExport = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json"))
                let winner = try exportedValue(hubExport.stdoutData, unit: "muong-lay", item: "II.4", field: "rating")
                #expect(winner?["value"] as? String == "tot" && winner?["device"] as? String == "dev-b", "at the hub: \(String(describing: winner))")
                let object = try #require(try JSONSerialization.jsonObject(with: hubExport.stdoutData) as? [String: Any])
                let conflicts = object["conflicts"] as? [[String: Any]] ?? []
                #expect(conflicts.count == 1)
                let losers = conflicts.first?["losers"] as? [[String: Any]] ?? []
                #expect(losers.map { $0["value"] as? String } == ["kha"] && losers.map { $0["device"] as? String } == ["dev-a"])
                for id in ["dev-a", "dev-b"] {
                    let local = try requireSuccess(try await ws.inspector("export", "--json", "--db", databases[id]!))
                    let value = try exportedValue(local.stdoutData, unit: "muong-lay", item: "II.4", field: "rating")
                    #expect(value?["value"] as? String == "tot" && value?["device"] as? String == "dev-b", "on \(id): \(String(describing: value))")
                    let atHub = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", id))
                    #expect(local.stdoutData == atHub.stdoutData, "\(id): its export differs from the hub's export for it")
                    let show = try requireSuccess(try await ws.inspector("show", "--db", databases[id]!, "--unit", "muong-lay"))
                    #expect(show.stdout.contains("rating = tot   [dev-b,"), "\(show)")
                }
                await hub.stop()
            }
        }

        @Test("a device whose clock runs 3 days fast loses to a later edit by a correct clock, and is warned")
        func fastClockLoses() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let hub = try await ws.startHub(hubDB)
                let fastToken = try await enroll(ws, hub: hubDB, device: "dev-fast", units: "muong-lay")
                let okToken = try await enroll(ws, hub: hubDB, device: "dev-ok", units: "muong-lay")
                let fastDB = ws.path("dev-fast.sqlite"), okDB = ws.path("dev-ok.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", fastDB, "--device", "dev-fast", "--hub", hub.address, "--token", fastToken))
                try requireSuccess(try await ws.inspector("init", "--db", okDB, "--device", "dev-ok", "--hub", hub.address, "--token", okToken))

                // The fast device runs in this process with a clock 3 days ahead.
                let threeDays: Int64 = 3 * 86_400_000
                let fast = try ReplicaStore.open(at: fastDB, clock: { ReplicaStore.systemClock() + threeDays })
                let first = try await SyncClient(store: fast).sync()
                #expect(abs(first.clockOffset + threeDays) < 60_000,
                        "the sync measured a clock offset of \(first.clockOffset) ms; the device is \(threeDays) ms ahead of the hub")
                let fastOp = try await fast.set(unit: "muong-lay", item: "II.4", field: "rating", value: "kha")
                #expect(abs(fastOp.timestamp.millis - ReplicaStore.systemClock()) < 60_000,
                        "the fast device stamped its edit \(fastOp.timestamp.isoTime), not hub-corrected time")

                try await Task.sleep(for: .seconds(2))
                try requireSuccess(try await ws.inspector("set", "--db", okDB, "muong-lay", "II.4", "rating", "tot"))
                _ = try await SyncClient(store: fast).sync()
                try requireSuccess(try await ws.inspector("sync", "--db", okDB))
                _ = try await SyncClient(store: fast).sync()
                try requireSuccess(try await ws.inspector("sync", "--db", okDB))

                let hubExport = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json"))
                let atHub = try exportedValue(hubExport.stdoutData, unit: "muong-lay", item: "II.4", field: "rating")
                #expect(atHub?["value"] as? String == "tot" && atHub?["device"] as? String == "dev-ok", "at the hub: \(String(describing: atHub))")
                for (id, database) in [("dev-fast", fastDB), ("dev-ok", okDB)] {
                    let local = try requireSuccess(try await ws.inspector("export", "--json", "--db", database))
                    let value = try exportedValue(local.stdoutData, unit: "muong-lay", item: "II.4", field: "rating")
                    #expect(value?["value"] as? String == "tot" && value?["device"] as? String == "dev-ok", "on \(id): \(String(describing: value))")
                    let forDevice = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", id))
                    #expect(local.stdoutData == forDevice.stdoutData, "\(id): its export differs from the hub's export for it")
                }

                // Both sides warn about the fast clock; the correct one is not warned about.
                let fastStatus = try requireSuccess(try await ws.inspector("status", "--db", fastDB))
                #expect(fastStatus.stdout.contains("WARNING"), "\(fastStatus)")
                let okStatus = try requireSuccess(try await ws.inspector("status", "--db", okDB))
                #expect(!okStatus.stdout.contains("WARNING"), "\(okStatus)")
                let hubStatus = try requireSuccess(try await ws.hub("status", "--db", hubDB))
                let fastBlock = hubStatus.stdout.components(separatedBy: "- dev-fast").dropFirst().first?.components(separatedBy: "- dev-ok").first ?? ""
                #expect(fastBlock.contains("WARNING"), "hub status does not warn about dev-fast: \(hubStatus)")
                await hub.stop()
            }
        }
    }
}

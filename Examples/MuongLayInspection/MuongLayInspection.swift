import Foundation
import InspectorCore
import InspectorDashboard
import InspectorHub
import InspectorPlans
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import Logging
import ServiceLifecycle

/// The Mường Lay inspection, end to end: a real hub on loopback, a team of three working offline,
/// a conflict, a sync cut halfway that resumes, the lead's decision, and the hub's export folder.
///
/// Run it with `swift run muong-lay-inspection [FOLDER] [--serve [--http HOST:PORT]]`; without a
/// folder it makes a fresh one under the system's temporary directory. With `--serve` the hub and
/// the office's dashboard (on 127.0.0.1:8080 unless `--http` says otherwise) keep running over the
/// result until SIGINT or SIGTERM.
@main
struct MuongLayInspection {
    static func main() async {
        do {
            var arguments = Array(CommandLine.arguments.dropFirst())
            var serve: String?
            if let index = arguments.firstIndex(of: "--serve") {
                arguments.remove(at: index)
                serve = "127.0.0.1:8080"
            }
            if let index = arguments.firstIndex(of: "--http"), index + 1 < arguments.count {
                serve = arguments[index + 1]
                arguments.removeSubrange(index...(index + 1))
            }
            let folder = arguments.first.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("muong-lay-inspection-\(UUID().uuidString.prefix(8))")
            try await Scenario(folder: folder, serve: serve).run()
        } catch {
            FileHandle.standardError.write(Data("muong-lay-inspection failed: \(error)\n".utf8))
            exit(1)
        }
    }
}

struct Scenario {
    let folder: URL
    /// HOST:PORT of the dashboard to keep serving at the end, if asked.
    var serve: String?

    /// The demo account the scenario adds for the dashboard: a supervisor.
    static let demoAccount = (name: "demo", password: "muong-lay-1181")

    struct Member {
        let device: String
        let name: String
        let role: String
        var store: ReplicaStore! = nil
    }

    /// Prints a line straight to the file descriptor: seen at once even through a pipe (a script
    /// waiting for "dashboard on").
    func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

    func run() async throws {
        let fileManager = FileManager.default
        let isEmpty = try !fileManager.fileExists(atPath: folder.path) || fileManager.contentsOfDirectory(atPath: folder.path).isEmpty
        guard isEmpty else {
            throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: folder.path])
        }
        try fileManager.createDirectory(at: folder, withIntermediateDirectories: true)
        let plan = try BuiltInPlans.current()
        say("Đoàn kiểm tra Mường Lay — \(plan.reference) (\(plan.title))")
        say("folder: \(folder.path)\n")

        // The hub, with the commune chosen for inspection as a sub-unit of the town.
        let hub = try HubStore.create(at: folder.appendingPathComponent("hub.sqlite").path, plan: plan)
        try hub.addUnit(Plan.Unit(id: "xa-lay-nua", name: "UBND xã Lay Nưa", kind: .direct, parent: "muong-lay"))
        try hub.schedule(unit: "muong-lay", arrival: CalendarDate(year: 2024, month: 6, day: 20)!)
        try hub.schedule(unit: "xa-lay-nua", arrival: CalendarDate(year: 2024, month: 6, day: 21)!)
        var logger = Logger(label: "inspectorsync.hub")
        logger.logLevel = .warning
        let running = try await HubServer(store: hub, configuration: .init(host: "127.0.0.1", port: 0, security: try .tls(for: hub), logger: logger)).start()
        let serving = Task { try await running.run() }
        defer { running.stop() }
        say("1. Hub started on \(running.address) (TLS 1.3, key \(hub.identity.fingerprint)) with \(hub.replica.units.count) units; visit to Mường Lay scheduled for 20/06/2024.")

        // The team: the lead and two members, each with a device and a token.
        var team = [
            Member(device: "truong-doan", name: "Lò Văn Thắng", role: "trưởng đoàn"),
            Member(device: "thanh-vien-1", name: "Quàng Thị Hoa", role: "thành viên"),
            Member(device: "thanh-vien-2", name: "Điêu Chính Tuấn", role: "thành viên"),
        ]
        let address = try checkedAddress(running.address)
        for index in team.indices {
            let token = try hub.addDevice(team[index].device, units: ["muong-lay"], name: team[index].name)
            let store = try ReplicaStore.create(at: folder.appendingPathComponent("\(team[index].device).sqlite").path,
                                                device: team[index].device, plan: plan)
            try store.connect(toHubAt: address, token: token)
            team[index].store = store
        }
        say("2. Enrolled \(team.map { "\($0.name) (\($0.role))" }.joined(separator: ", ")) for muong-lay and xa-lay-nua; each device pins the hub's key and enrolls its own at its first sync.")

        // A first sync in coverage, so everyone knows the commune and the team's scope.
        for member in team { _ = try await SyncClient(store: member.store).sync() }

        // Offline work.
        let lead = team[0].store!, hoa = team[1].store!, tuan = team[2].store!
        for item in ["I.1", "I.2", "II.1", "II.3"] {
            try await lead.set(unit: "muong-lay", item: item, field: "status", value: "done")
            try await lead.set(unit: "muong-lay", item: item, field: "rating", value: "kha")
        }
        try await lead.set(unit: "muong-lay", item: "I.1", field: "note", value: "Thị xã vùng cao, 3 phường và 2 xã; đội ngũ làm công tác thi đua kiêm nhiệm.")
        try await lead.addFinding(unit: "muong-lay", item: "II.3", kind: .goodPractice, text: "Mô hình “Dân vận khéo” ở phường Na Lay được nhân rộng ra các bản.")
        for (index, item) in ["II.2.a.1", "II.2.a.2", "II.2.a.3", "II.2.a.4", "II.2.a.5", "II.2.a.6", "II.2.a.7"].enumerated() {
            try await hoa.set(unit: "muong-lay", item: item, field: "status", value: "done")
            try await hoa.set(unit: "muong-lay", item: item, field: "collectives_rewarded", value: String(3 + index))
            try await hoa.set(unit: "muong-lay", item: item, field: "note", value: "Đã kiểm tra hồ sơ phát động, sơ kết phong trào năm 2023 (mục \(item)).")
        }
        try await hoa.set(unit: "muong-lay", item: "II.5", field: "reward_spending_total", value: "182500000")
        try await hoa.set(unit: "muong-lay", item: "II.5", field: "fund_percent", value: "15")
        try await hoa.set(unit: "muong-lay", item: "II.4", field: "share_workers_farmers", value: "38,5")
        let retracted = try await hoa.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Chưa trích lập quỹ thi đua, khen thưởng năm 2023.")
        try await hoa.retractFinding(retracted.finding!, reason: "Đơn vị đã xuất trình quyết định trích lập quỹ số 45/QĐ-UBND.")
        try await hoa.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Quỹ thi đua, khen thưởng trích lập thấp hơn mức quy định.")
        try await tuan.set(unit: "xa-lay-nua", item: "II.6.e", field: "status", value: "in_progress")
        let records = try await tuan.addFinding(unit: "xa-lay-nua", item: "II.6.e", kind: .shortcoming, text: "Hồ sơ khen thưởng năm 2023 lưu trữ chưa đầy đủ, thiếu biên bản họp Hội đồng.")
        // He photographs the records as evidence: the photo is attached to the finding, offline.
        let photo = folder.appendingPathComponent("Hồ sơ khen thưởng 2023.png")
        try Data(EvidencePhoto.png()).write(to: photo)
        let attached = try await tuan.attach(fileAt: photo.path, toFinding: records.finding!)
        try await tuan.addFinding(unit: "xa-lay-nua", item: nil, kind: .recommendation, text: "Đề nghị bố trí cán bộ chuyên trách công tác thi đua, khen thưởng cấp xã.")
        for i in 1...120 {
            try await tuan.set(unit: "xa-lay-nua", item: "II.6.c", field: "note", value: "Ghi chép hiện trường lần \(i): phỏng vấn cán bộ văn phòng xã về hồ sơ thi đua.")
        }
        // Two members set the same field, a second apart, both offline.
        try await hoa.set(unit: "muong-lay", item: "II.4", field: "rating", value: "kha")
        try await Task.sleep(for: .milliseconds(1100))
        try await tuan.set(unit: "muong-lay", item: "II.4", field: "rating", value: "trung_binh")
        say("3. Offline: \(try await lead.lastSequence(of: lead.device)) edits by the lead, \(try await hoa.lastSequence(of: hoa.device)) by Quàng Thị Hoa, \(try await tuan.lastSequence(of: tuan.device)) by Điêu Chính Tuấn; Hoa and Tuấn both rated item II.4, a second apart.")

        // They come back into coverage at different times.
        let leadSync = try await SyncClient(store: lead).sync()
        let tuanSync = try await SyncClient(store: tuan).sync()
        say("4. The lead synced: pushed \(leadSync.pushed). Tuấn synced: pushed \(tuanSync.pushed), pulled \(tuanSync.pulled), then sent his photo of the records (\(attached.attachment!.name), \(tuanSync.fileBytesSent) bytes) after the checklist.")

        // Hoa's sync is cut halfway through the pull (signal lost), then resumes.
        let proxy = CuttingProxy(upstreamHost: "127.0.0.1", upstreamPort: Int(address.split(separator: ":").last!)!, cutAfter: 12_000)
        let relay = try await proxy.start()
        let cutAddress = try checkedAddress("127.0.0.1:\(relay.port)")
        var cutError: String?
        do {
            // Without compression for this attempt, so that the cut falls at a predictable place.
            _ = try await SyncClient(store: hoa, address: .init(parsing: cutAddress), batchSize: 25, compresses: false).sync()
        } catch {
            cutError = "\(error)"
        }
        relay.task.cancel()
        let cursorAfterCut = try await hoa.syncState().pullCursor
        let heldAfterCut = try hoa.operationCount()
        let resumed = try await SyncClient(store: hoa, batchSize: 25).sync()
        guard let cutError else { throw ScenarioError("the cut sync did not fail") }
        say("5. Quàng Thị Hoa lost signal: her sync was cut mid-line after 12000 bytes from the hub (\(cutError)).")
        say("   What arrived before the cut was kept: she held \(heldAfterCut) ops, pull cursor at hub position \(cursorAfterCut).")
        say("   Back in coverage, the sync resumed from there: pushed \(resumed.pushed), pulled \(resumed.pulled) more; new conflicts: \(resumed.newConflicts).")

        // The lead sees the conflict and decides.
        let conflicts = try hub.replica.dataset().conflicts
        for conflict in conflicts {
            say("6. Conflict on \(conflict.unit) \(conflict.item) \(conflict.field): \(conflict.winner.value) (\(conflict.winner.device)) over \(conflict.losers.map { "\($0.value) (\($0.device))" }.joined(separator: ", ")).")
        }
        try await hub.resolve(unit: "muong-lay", item: "II.4", field: "rating", value: "kha", by: "Lò Văn Thắng")
        for member in team { _ = try await SyncClient(store: member.store).sync() }
        let decided = try team.map { try $0.store.dataset().values.first { $0.unit == "muong-lay" && $0.item == "II.4" && $0.field == "rating" }?.current.value ?? "-" }
        say("   The lead resolved it as 'kha'; after syncing, every device holds: \(decided.joined(separator: ", ")).")

        // Everyone converged with the hub.
        for member in team {
            let mine = try member.store.dataset(unitIDs: member.store.scope()).canonicalJSON()
            let hubs = try await hub.dataset(for: member.device).canonicalJSON()
            guard mine == hubs else { throw ScenarioError("\(member.device) differs from the hub after the final sync") }
        }
        say("7. All three devices hold exactly what the hub holds for them (\(try hub.replica.operationCount()) ops at the hub).")

        // The export.
        let out = folder.appendingPathComponent("export")
        let files = try hub.export(to: out, asOf: CalendarDate(year: 2024, month: 6, day: 1)!)
        say("8. The hub wrote its export (deadlines as of 01/06/2024):")
        for file in files { say("   \(file.path)") }

        // The office's dashboard over the same hub, with a demo account.
        try hub.addOfficeUser(name: Self.demoAccount.name, role: .supervisor, password: Self.demoAccount.password)
        let hubPath = folder.appendingPathComponent("hub.sqlite").path
        say("9. The office follows it in a browser: the dashboard over this hub, with a demo supervisor account.")
        if let serve {
            let address = try HubAddress(parsing: serve)
            let dashboard = try await Dashboard.make(store: hub, configuration: .init(logger: logger))
            let application = dashboard.makeApplication(host: address.host, port: address.port) { bound in
                say("dashboard on http://\(bound)")
                say("   sign in as '\(Self.demoAccount.name)' with the password '\(Self.demoAccount.password)'; devices sync with the hub at \(running.address).")
                say("   Serving until interrupted (Ctrl-C).")
            }
            let group = ServiceGroup(configuration: .init(services: [.init(service: DashboardService(dashboard: dashboard, application: application))],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            say("stopped")
        } else {
            say("   swift run muong-lay-inspection --serve     (this scenario again, then its hub and dashboard stay up on http://127.0.0.1:8080)")
            say("   or, over this hub: swift run hub serve --db \(hubPath) --http 127.0.0.1:8080")
            say("   then open http://127.0.0.1:8080 and sign in as '\(Self.demoAccount.name)' with the password '\(Self.demoAccount.password)'.")
        }
        running.stop()
        _ = await serving.result
    }
}

struct ScenarioError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Checks an address string is `HOST:PORT` and returns it.
func checkedAddress(_ text: String) throws -> String {
    guard text.split(separator: ":").count == 2 else { throw ScenarioError("unexpected address \(text)") }
    return text
}

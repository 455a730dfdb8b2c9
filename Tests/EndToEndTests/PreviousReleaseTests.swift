import Foundation
import Testing

extension EndToEnd {
    /// Files written by the previous release (`Fixtures/previous-release`, made by its CLIs with
    /// `make.sh`: a hub, and two devices that synced, then each made one edit not yet sent) open with
    /// today's code, migrate, and sync: nothing written before is lost, and every replica converges.
    @Suite struct PreviousReleaseTests {
        static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/previous-release")

        @Test func filesOfThePreviousReleaseOpenMigrateAndSync() async throws {
            try await withWorkspace { ws in
                for name in ["hub.sqlite", "dev-a.sqlite", "dev-b.sqlite"] {
                    try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(name), to: URL(fileURLWithPath: ws.path(name)))
                }
                let hubDB = ws.path("hub.sqlite")
                // Today's code reads the old hub exactly as the old code exported it.
                let before = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdoutData
                #expect(before == (try Data(contentsOf: Self.fixtures.appendingPathComponent("hub-export-before.json"))))
                let status = try requireSuccess(try await ws.hub("status", "--db", hubDB)).stdout
                #expect(status.contains("dev-a") && status.contains("dev-b"), "\(status)")
                // The unsent edits are still there, and still unsent.
                let pending = try requireSuccess(try await ws.inspector("status", "--db", ws.path("dev-a.sqlite"))).stdout
                #expect(pending.contains("only on this device: 1 operation"), "\(pending)")

                let hub = try await ws.startHub(hubDB)
                // Protocol 2: the old replicas know no hub key, so they refuse to sync in clear; their
                // users pin the key the hub's operator reads out (their tokens became enrollment secrets).
                let refused = try await ws.inspector("sync", "--db", ws.path("dev-a.sqlite"), "--hub", hub.address)
                #expect(refused.status == 1 && refused.stderr.contains("not_configured"), "\(refused)")
                let hubStatus = try requireSuccess(try await ws.hub("status", "--db", hubDB)).stdout
                let keyLine = try #require(hubStatus.split(separator: "\n").first { $0.hasPrefix("hub key: ") }, "\(hubStatus)")
                let fingerprint = String(keyLine.dropFirst("hub key: ".count))
                for device in ["dev-a", "dev-b"] {
                    try requireSuccess(try await ws.inspector("link", "--db", ws.path("\(device).sqlite"), "--hub-key", fingerprint))
                }
                for device in ["dev-a", "dev-b", "dev-a"] {
                    // The hub now listens on another port: the device is told once, and remembers it.
                    let sync = try requireSuccess(try await ws.inspector("sync", "--db", ws.path("\(device).sqlite"), "--hub", hub.address))
                    #expect(sync.stdout.contains("synced with \(hub.address)"), "\(sync)")
                }
                let again = try requireSuccess(try await ws.inspector("sync", "--db", ws.path("dev-b.sqlite")))
                #expect(again.stdout.contains("synced with \(hub.address): pushed 0"), "\(again)")

                let after = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdout
                #expect(after.contains("Đoàn làm việc với UBND xã Lay Nưa ngày 06/11"), "dev-a's unsent edit reached the hub")
                #expect(after.contains("Ghi nhầm đơn vị"), "dev-b's unsent retraction reached the hub")
                #expect(after.contains("Mô hình “Dân vận khéo” ở bản Huổi Lóng"), "what was synced before is kept")
                for device in ["dev-a", "dev-b"] {
                    let view = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json", "--device", device)).stdoutData
                    let held = try requireSuccess(try await ws.inspector("export", "--db", ws.path("\(device).sqlite"), "--json")).stdoutData
                    #expect(view == held, "\(device) holds the hub's view of its scope")
                }
                for name in ["hub.sqlite", "dev-a.sqlite", "dev-b.sqlite"] {
                    let check = try requireSuccess(try await run("/usr/bin/sqlite3", [ws.path(name), "PRAGMA integrity_check;"]))
                    #expect(check.stdout == "ok\n", "\(name): \(check.stdout)")
                }
                #expect(await hub.stop())
            }
        }
    }
}

import Foundation
import Testing

extension EndToEnd {
    /// `inspector watch` (Sources/inspector/InspectorCommand+Watch.swift) against edits and syncs made
    /// by other processes. No timing is asserted: the latency from a command's exit to the line is
    /// printed for the record (the command checks the file every 200 ms).
    @Suite("inspector watch")
    struct InspectorWatchTests {
        /// Waits for a line of `watch` holding `text`, after `since` lines; prints how long it took.
        static func line(_ watch: ChildProcess, containing text: String, after since: Int, from start: ContinuousClock.Instant) async throws -> String {
            let found = try await offThread {
                watch.waitForLine(timeout: 120) { line in line.contains(text) }
            }
            let line = try #require(found, "no line with '\(text)'; watch printed: \(watch.stdout) \(watch.stderr)")
            print("[InspectorWatch] '\(text)' shown \(ContinuousClock.now - start) after the command ended")
            #expect(watch.stdout.count > since)
            return line
        }

        @Test("local edits and what a sync brings in are printed as they are committed, one line each")
        func editsAndSyncedChangesArePrinted() async throws {
            try await withWorkspace { ws in
                let (_, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay"), ("dev-b", "muong-lay")])
                let a = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                let b = try await ws.initDevice("dev-b", hub: hub, token: tokens["dev-b"]!)

                let watch = try ws.spawn(Products.inspector, ["watch", "--db", a, "--unit", "muong-lay"])
                let header = try await offThread { watch.waitForLine(timeout: 120) { $0.hasPrefix("watching ") } }
                #expect(header?.contains("unit muong-lay") == true, "\(watch.stdout) \(watch.stderr)")

                // A local edit, from another process.
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "status", "in_progress"))
                var line = try await Self.line(watch, containing: "set muong-lay II.4 status = in_progress", after: 1, from: .now)
                #expect(line.contains("(dev-a#1 at "), "\(line)")

                // dev-b edits the same field later and adds a finding; dev-a's sync brings both in.
                try requireSuccess(try await ws.inspector("set", "--db", b, "muong-lay", "II.4", "status", "done"))
                let added = try requireSuccess(try await ws.inspector("finding", "add", "--db", b, "--unit", "muong-lay", "--item", "II.4",
                                                                      "--kind", "shortcoming", "--text", "Thiếu biên bản họp xét khen thưởng"))
                try requireSuccess(try await ws.inspector("sync", "--db", b))
                try requireSuccess(try await ws.inspector("sync", "--db", a))
                let synced = ContinuousClock.now
                line = try await Self.line(watch, containing: "set muong-lay II.4 status = done (was in_progress; dev-b#1", after: 2, from: synced)
                line = try await Self.line(watch, containing: "finding \(added.lines.last!) muong-lay II.4 shortcoming: Thiếu biên bản họp xét khen thưởng", after: 3, from: synced)

                // A retraction.
                try requireSuccess(try await ws.inspector("finding", "retract", "--db", a, added.lines.last!, "--reason", "Đã bổ sung"))
                line = try await Self.line(watch, containing: "retracted \(added.lines.last!): Đã bổ sung (dev-a#", after: 4, from: .now)
                #expect(watch.stdout.count == 5, "one line per change: \(watch.stdout)")

                // Interrupted, it ends.
                watch.signal(SIGINT)
                #expect(watch.waitForExit(timeout: 60))
                _ = await hub.stop()
            }
        }

        @Test("an unknown unit or a missing file is refused with a clear error")
        func badInputIsRefused() async throws {
            try await withWorkspace { ws in
                let a = ws.path("a.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a"))
                let unknown = try await ws.inspector("watch", "--db", a, "--unit", "nowhere")
                #expect(unknown.status != 0 && unknown.stderr.contains("nowhere"), "\(unknown)")
                let missing = try await ws.inspector("watch", "--db", ws.path("missing.sqlite"))
                #expect(missing.status != 0 && missing.stderr.contains("missing.sqlite"), "\(missing)")
            }
        }
    }
}

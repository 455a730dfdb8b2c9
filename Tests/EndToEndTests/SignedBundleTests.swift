import Crypto
import Foundation
import InspectorTestSupport
import Testing

// Signed logs with real processes (issue 12, PROTOCOL.md 17 and 19): a bundle altered on its way,
// even with its trailer recomputed, is refused by `hub bundle import` and `inspector bundle import`
// and applies nothing; an honest one applies; a device that never met the hub enrolls its key
// through its bundle; a hub states per device whether its log verified.

/// The bundle's bytes with its `end` trailer recomputed over what precedes it, as anyone can.
private func withRecomputedTrailer(_ text: String) -> Data {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    let body = lines.dropLast().map { $0 + "\n" }.joined()
    let count = lines.filter { $0.hasPrefix("op ") }.count
    let digest = SHA256.hash(data: Data(body.utf8)).map { String(format: "%02x", $0) }.joined()
    return Data((body + "end {\"count\":\(count),\"sha256\":\"\(digest)\"}\n").utf8)
}

extension EndToEnd {
    @Suite("Signed logs")
    struct SignedBundleTests {
        @Test("a bundle with one op altered and its trailer recomputed is refused by the hub and by a device; the honest one applies")
        func alteredBundleIsRefusedEverywhere() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay"), ("dev-b", "muong-lay")])
                let a = ws.path("a.sqlite"), b = ws.path("b.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a", "--hub", hub.address, "--token", tokens["dev-a"]!))
                try requireSuccess(try await ws.inspector("init", "--db", b, "--device", "dev-b", "--hub", hub.address, "--token", tokens["dev-b"]!))
                // dev-a syncs once (its key enrolls), then works offline and carries a stick.
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "status", "in_progress"))
                try requireSuccess(try await ws.inspector("sync", "--db", a))
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--item", "II.5",
                                                          "--kind", "shortcoming", "--text", "Chưa trích lập quỹ thi đua, khen thưởng"))
                // dev-b learns dev-a's key from the hub's welcome.
                try requireSuccess(try await ws.inspector("sync", "--db", b))
                let bundle = ws.path("a.bundle")
                let exported = try requireSuccess(try await ws.inspector("bundle", "export", "--db", a, "--out", bundle))
                #expect(exported.stdout.contains("wrote 3 operations of this device, signed"), "\(exported)")
                let original = try String(contentsOfFile: bundle, encoding: .utf8)
                #expect(original.contains("\nhead {\"d\":\"dev-a\",\"from\":1,"))

                // One op altered — a value in the finding's text — and the trailer recomputed.
                let altered = ws.path("altered.bundle")
                let forged = original.replacingOccurrences(of: "Chưa trích lập quỹ", with: "Đã trích lập quỹ")
                #expect(forged != original)
                try withRecomputedTrailer(forged).write(to: URL(fileURLWithPath: altered))
                let hubBefore = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdout
                let refusedAtHub = try await ws.hub("bundle", "import", "--db", hubDB, altered)
                #expect(refusedAtHub.status == 1 && refusedAtHub.stderr.contains("bad_signature") && refusedAtHub.stderr.contains("dev-a#1–#3"),
                        "\(refusedAtHub)")
                #expect(try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdout == hubBefore, "nothing applied at the hub")
                let bBefore = try await ws.logLineCount(b)
                let refusedAtDevice = try await ws.inspector("bundle", "import", "--db", b, altered)
                #expect(refusedAtDevice.status == 1 && refusedAtDevice.stderr.contains("bad_signature"), "\(refusedAtDevice)")
                #expect(try await ws.logLineCount(b) == bBefore, "nothing applied at the device")

                // An op dropped from the middle, trailer recomputed: refused, naming the op.
                let dropped = ws.path("dropped.bundle")
                let lines = original.split(separator: "\n").map(String.init)
                try withRecomputedTrailer(lines.enumerated().filter { $0.offset != 2 }.map { $0.element + "\n" }.joined()).write(to: URL(fileURLWithPath: dropped))
                let droppedAtHub = try await ws.hub("bundle", "import", "--db", hubDB, dropped)
                #expect(droppedAtHub.status == 1 && droppedAtHub.stderr.contains("dev-a#2 is missing"), "\(droppedAtHub)")

                // The honest bundle applies at both, and the hub states dev-a's log verified.
                let imported = try requireSuccess(try await ws.hub("bundle", "import", "--db", hubDB, bundle))
                #expect(imported.stdout.contains("2 new"), "\(imported)")
                let importedAtB = try requireSuccess(try await ws.inspector("bundle", "import", "--db", b, bundle))
                #expect(importedAtB.stdout.contains("2 new, 1 already held"), "\(importedAtB)")
                let out = ws.path("export")
                try requireSuccess(try await ws.hub("export", "--db", hubDB, "--out", out))
                let logs = try String(contentsOfFile: out + "/logs.csv", encoding: .utf8)
                #expect(logs.contains("dev-a,") && logs.contains(",3,1,3,Có,"), "\(logs)")
                let status = try requireSuccess(try await ws.hub("status", "--db", hubDB)).stdout
                #expect(status.contains("signed log: verified #1–#3: every op held verified"), "\(status)")
            }
        }

        @Test("a device that never met the hub enrolls its key with its bundle; a copy of its code cannot sign for it")
        func bundleOfADeviceThatNeverSynced() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-c", "muong-ang")])
                let c = ws.path("c.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", c, "--device", "dev-c", "--hub", hub.address, "--token", tokens["dev-c"]!))
                try requireSuccess(try await ws.inspector("set", "--db", c, "muong-ang", "II.4", "status", "done"))
                let bundle = ws.path("c.bundle")
                try requireSuccess(try await ws.inspector("bundle", "export", "--db", c, "--out", bundle))
                let imported = try requireSuccess(try await ws.hub("bundle", "import", "--db", hubDB, bundle))
                #expect(imported.stdout.contains("1 new"), "\(imported)")
                let status = try requireSuccess(try await ws.hub("status", "--db", hubDB)).stdout
                #expect(status.contains("signed log: verified #1–#1"), "\(status)")
                // The key enrolled from the bundle is the one the device syncs with.
                try requireSuccess(try await ws.inspector("set", "--db", c, "muong-ang", "II.4", "rating", "tot"))
                try requireSuccess(try await ws.inspector("sync", "--db", c))
                // A second replica made from the same code signs with another key: refused.
                let copy = ws.path("copy.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", copy, "--device", "dev-c", "--hub", hub.address, "--token", tokens["dev-c"]!))
                try requireSuccess(try await ws.inspector("set", "--db", copy, "muong-ang", "II.4", "status", "not_started"))
                let copied = ws.path("copy.bundle")
                try requireSuccess(try await ws.inspector("bundle", "export", "--db", copy, "--out", copied))
                let refused = try await ws.hub("bundle", "import", "--db", hubDB, copied)
                #expect(refused.status == 1 && refused.stderr.contains("bad_signature") && refused.stderr.contains("not by its enrolled key"), "\(refused)")
            }
        }
    }
}

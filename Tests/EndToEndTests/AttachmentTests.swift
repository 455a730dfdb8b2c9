import Crypto
import Foundation
@testable import InspectorTestSupport
import Testing

// Evidence photos with real processes (issue 13, PROTOCOL.md 20): a 20 MiB file attached offline
// reaches the hub and another device byte for byte; an upload cut 20 times sends little more than
// the file; the same file is sent once; a hub killed during an upload loses nothing it acknowledged,
// and the checklist's ops reach it before the file; a file over the limit records nothing.

/// A file of `count` bytes that sniffs as a JPEG, from a seed (random bytes: DEFLATE cannot shrink it).
private func photo(_ count: Int, seed: UInt64) -> Data {
    var rng = SplitMix64(seed: seed)
    var data = Data(count: count)
    data.withUnsafeMutableBytes { raw in
        let words = raw.bindMemory(to: UInt64.self)
        for index in words.indices { words[index] = rng.next() }
        for index in (words.count * 8)..<count { raw[index] = UInt8(truncatingIfNeeded: rng.next()) }
        raw[0] = 0xFF; raw[1] = 0xD8; raw[2] = 0xFF; raw[3] = 0xE0
    }
    return data
}

private func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

/// The byte counts of `files: N/T bytes at the hub` progress lines, in order.
private func uploadProgress(_ lines: [String]) -> [Int] {
    lines.compactMap { line in
        guard line.hasPrefix("  files: "), line.hasSuffix(" bytes at the hub") else { return nil }
        return Int(line.dropFirst("  files: ".count).prefix { $0 != "/" })
    }
}

extension EndToEnd {
    @Suite("Attachments")
    struct AttachmentTests {
        static let size = 20 << 20

        @Test("a 20 MiB file attached offline arrives byte-identical at the hub and at a device that fetches it; the same file is sent once")
        func aLargeFileArrivesEverywhereAndIsSentOnce() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay"), ("dev-b", "muong-lay")])
                let a = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                let b = try await ws.initDevice("dev-b", hub: hub, token: tokens["dev-b"]!)
                let bytes = photo(Self.size, seed: 13)
                let file = ws.path("Biên bản kiểm tra hồ sơ.jpg")
                try bytes.write(to: URL(fileURLWithPath: file))
                // Offline: a finding with the photo, and the same photo on a second finding.
                let added = try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--item", "II.4",
                                                                    "--kind", "shortcoming", "--text", "Hồ sơ khen thưởng thiếu biên bản họp", "--attach", file))
                #expect(added.stdout.contains("attached Biên bản kiểm tra hồ sơ.jpg (image/jpeg, \(Self.size) bytes, sha256 \(sha256(bytes)))"), "\(added)")
                let second = try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--kind", "observation",
                                                                     "--text", "Cùng tài liệu"))
                try requireSuccess(try await ws.inspector("attach", "--db", a, second.lines.last!, file, "--name", "bản sao.jpg"))
                let status = try requireSuccess(try await ws.inspector("status", "--db", a)).stdout
                #expect(status.contains("files not yet at the hub: 1 (\(Self.size) bytes)"), "\(status)")

                let synced = try requireSuccess(try await ws.inspector("sync", "--db", a))
                #expect(synced.stdout.contains("files: 1 now at the hub (\(Self.size) bytes sent)"), "sent once: \(synced)")
                #expect(!(try requireSuccess(try await ws.inspector("status", "--db", a))).stdout.contains("files not yet at the hub"))
                let out = ws.path("export")
                try requireSuccess(try await ws.hub("export", "--db", hubDB, "--out", out))
                let exported = try Data(contentsOf: URL(fileURLWithPath: out + "/attachments/\(sha256(bytes)).jpg"))
                #expect(exported == bytes, "byte-identical at the hub")
                let csv = try String(contentsOfFile: out + "/attachments.csv", encoding: .utf8)
                #expect(csv.split(separator: "\r\n").count == 3 && csv.contains("Biên bản kiểm tra hồ sơ.jpg") && csv.contains("bản sao.jpg"), "\(csv)")
                let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
                #expect(html.contains("<img src=\"attachments/\(sha256(bytes)).jpg\""))

                // dev-b learns of the file at its sync and fetches it on demand.
                try requireSuccess(try await ws.inspector("sync", "--db", b))
                let shown = try requireSuccess(try await ws.inspector("show", "--db", b)).stdout
                #expect(shown.contains("tệp đính kèm: Biên bản kiểm tra hồ sơ.jpg"), "\(shown)")
                let fetched = ws.path("fetched.jpg")
                let got = try requireSuccess(try await ws.inspector("attachment", "get", "--db", b, String(sha256(bytes).prefix(12)), "--out", fetched))
                #expect(got.stdout.contains("wrote Biên bản kiểm tra hồ sơ.jpg"), "\(got)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: fetched)) == bytes, "byte-identical at the other device")

                // dev-b attaches the same photo to its own finding: the hub holds it, nothing is sent.
                let own = try requireSuccess(try await ws.inspector("finding", "add", "--db", b, "--unit", "muong-lay", "--kind", "observation",
                                                                  "--text", "Ảnh của tổ", "--attach", file))
                #expect(own.status == 0)
                let again = try requireSuccess(try await ws.inspector("sync", "--db", b))
                #expect(again.stdout.contains("files: 1 now at the hub (0 bytes sent)"), "\(again)")
                await hub.stop()
            }
        }

        @Test("an upload cut at 20 random offsets finishes, sending at most the file, one chunk per cut and each session's overhead")
        func anUploadCutTwentyTimesSendsLittleMore() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay"), ("dev-c", "muong-lay")])
                let relay = try await CuttingRelay.start(to: Int(hub.port))
                let viaRelay = "127.0.0.1:\(relay.port)"
                let a = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                let c = try await ws.initDevice("dev-c", hub: hub, token: tokens["dev-c"]!)
                // The baseline: dev-c sends a file of the same size in one uncut sync, then syncs with nothing to do.
                for (device, seed) in [(c, UInt64(1)), (a, UInt64(2))] {
                    let file = ws.path("\(seed).jpg")
                    try photo(Self.size, seed: seed).write(to: URL(fileURLWithPath: file))
                    try requireSuccess(try await ws.inspector("finding", "add", "--db", device, "--unit", "muong-lay", "--kind", "observation",
                                                              "--text", "Ảnh \(seed)", "--attach", file))
                }
                var before = relay.upstreamBytes
                try requireSuccess(try await ws.inspector("sync", "--db", c, "--hub", viaRelay))
                let whole = relay.upstreamBytes - before
                before = relay.upstreamBytes
                try requireSuccess(try await ws.inspector("sync", "--db", c))
                let session = relay.upstreamBytes - before
                // One chunk line on the wire, as the baseline sent them.
                let chunk = (whole - session) * (256 << 10) / Self.size + 1
                // Pinned by INSPECTOR_FAULT_SEED to replay a run; printed either way.
                let seed = ProcessInfo.processInfo.environment["INSPECTOR_FAULT_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
                var rng = SplitMix64(seed: seed)
                before = relay.upstreamBytes
                var cuts = 0
                for _ in 0..<20 {
                    let cut = session + 16_384 + Int(rng.next() % UInt64(1_400_000))
                    relay.cutNext(after: cut)
                    let result = try await ws.inspector("sync", "--db", a, "--hub", viaRelay)
                    if result.status != 0 { cuts += 1 }
                }
                try requireSuccess(try await ws.inspector("sync", "--db", a, "--hub", viaRelay))
                let total = relay.upstreamBytes - before
                let bound = whole + cuts * (chunk + session)
                print("[cutUpload] seed \(seed): \(cuts) cuts; \(total) bytes toward the hub; bound \(bound) (an uncut upload \(whole), one chunk line \(chunk), a session \(session))")
                #expect(cuts == 20, "every sync with a cut failed")
                #expect(total <= bound, "sent \(total) bytes, over \(bound)")
                let out = ws.path("export")
                try requireSuccess(try await ws.hub("export", "--db", hubDB, "--out", out))
                let sent = photo(Self.size, seed: 2)
                #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/attachments/\(sha256(sent)).jpg")) == sent)
                await relay.stop()
                await hub.stop()
            }
        }

        @Test("a hub killed during an upload loses nothing it acknowledged; the op recorded after the file reached it first")
        func aHubKilledDuringAnUploadLosesNothingAcknowledged() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay")])
                let a = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                let bytes = photo(Self.size, seed: 21)
                let file = ws.path("công văn.jpg")
                try bytes.write(to: URL(fileURLWithPath: file))
                try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--item", "II.1", "--kind", "shortcoming",
                                                          "--text", "Chưa ban hành kế hoạch", "--attach", file))
                // Recorded after the file: it must reach the hub first.
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.1", "status", "done"))
                // A weak link: 3 MiB/s toward the hub, so the upload takes seconds.
                let relay = try await CuttingRelay.start(to: Int(hub.port))
                relay.limit(toBytesPerSecond: 3 << 20)
                let sync = try ws.spawn(Products.inspector, ["sync", "--db", a, "--hub", "127.0.0.1:\(relay.port)"])
                let midway = try await offThread {
                    sync.waitForLine(onStderr: true, timeout: 120) { line in
                        uploadProgress([line]).first.map { $0 >= 4 << 20 } ?? false
                    }
                }
                #expect(midway != nil, "no upload progress: \(sync.stderr)")
                // The link all but stops (a byte a second): the upload is still going while the hub is
                // looked at, whatever the machine's load, and when it is killed.
                relay.limit(toBytesPerSecond: 1)
                let whileUploading = try requireSuccess(try await ws.hub("export", "--db", hubDB, "--json")).stdout
                #expect(whileUploading.contains("\"item\": \"II.1\"") && whileUploading.contains("\"value\": \"done\""),
                        "the op recorded after the file is at the hub while the file uploads")
                await hub.kill()
                _ = try await offThread { sync.waitForExit(timeout: 60) }
                #expect(sync.status != 0)
                let acknowledged = uploadProgress(sync.stderr).max() ?? 0
                #expect(acknowledged >= 4 << 20 && acknowledged < Self.size, "\(acknowledged)")

                // The hub restarts on the same file; the device resumes at least where the hub acknowledged.
                let restarted = try await ws.startHub(hubDB)
                let resumed = try requireSuccess(try await ws.inspector("sync", "--db", a, "--hub", restarted.address))
                let progress = uploadProgress(resumed.stderr.split(separator: "\n").map(String.init))
                try #require(progress.count >= 2, "\(resumed)")
                #expect(progress[1] >= acknowledged, "resumed at \(progress[1]), acknowledged \(acknowledged)")
                #expect(resumed.stdout.contains("files: 1 now at the hub (\(Self.size - progress[1]) bytes sent)"), "\(resumed)")
                let out = ws.path("export")
                try requireSuccess(try await ws.hub("export", "--db", hubDB, "--out", out))
                #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/attachments/\(sha256(bytes)).jpg")) == bytes)
                await relay.stop()
                await restarted.stop()
            }
        }

        @Test("a bundle with an attachment imports at the hub with its file; an altered file is refused and nothing applies")
        func aBundleCarriesItsFiles() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay")])
                let a = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                // dev-a never reaches the hub: its work goes on a USB stick.
                await hub.stop()
                let bytes = photo(3 << 20, seed: 31)
                let file = ws.path("bằng khen.jpg")
                try bytes.write(to: URL(fileURLWithPath: file))
                try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--item", "II.5", "--kind", "good_practice",
                                                          "--text", "Đã trích lập quỹ thi đua", "--attach", file))
                let bundle = ws.path("a.bundle")
                let exported = try requireSuccess(try await ws.inspector("bundle", "export", "--db", a, "--out", bundle))
                #expect(exported.stdout.contains("with 1 attached file(s), \(3 << 20) bytes"), "\(exported)")

                // The same stick with one byte of the photo changed and its trailer recomputed: refused.
                let text = try String(contentsOfFile: bundle, encoding: .utf8)
                var lines = text.split(separator: "\n").map(String.init)
                let index = try #require(lines.firstIndex { $0.hasPrefix("file ") })
                let marker = "\"data\":\""
                let at = try #require(lines[index].range(of: marker)).upperBound
                let position = lines[index].index(at, offsetBy: 1000)
                let original = lines[index][position]
                lines[index].replaceSubrange(position...position, with: original == "A" ? "B" : "A")
                let body = lines.dropLast().map { $0 + "\n" }.joined()
                let digest = SHA256.hash(data: Data(body.utf8)).map { String(format: "%02x", $0) }.joined()
                let altered = ws.path("altered.bundle")
                try Data((body + "end {\"count\":2,\"sha256\":\"\(digest)\"}\n").utf8).write(to: URL(fileURLWithPath: altered))
                let refused = try await ws.hub("bundle", "import", "--db", hubDB, altered)
                #expect(refused.status != 0 && refused.stderr.contains("bad_bundle") && refused.stderr.contains("it was altered"), "\(refused)")
                #expect(try await hubOperationCount(ws, hubDB) == 0, "nothing applied")

                let imported = try requireSuccess(try await ws.hub("bundle", "import", "--db", hubDB, bundle))
                #expect(imported.stdout.contains("2 new") && imported.stdout.contains("with 1 attached file(s)"), "\(imported)")
                let out = ws.path("export")
                try requireSuccess(try await ws.hub("export", "--db", hubDB, "--out", out))
                #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/attachments/\(sha256(bytes)).jpg")) == bytes)
                // At its next sync the device learns that the hub holds the file: nothing is sent.
                let restarted = try await ws.startHub(hubDB)
                let synced = try requireSuccess(try await ws.inspector("sync", "--db", a, "--hub", restarted.address))
                #expect(synced.stdout.contains("files: 1 now at the hub (0 bytes sent)"), "\(synced)")
                await restarted.stop()
            }
        }

        @Test("the attachment commands refuse what they cannot do, with a clear error, and change nothing")
        func theAttachmentCommandsRefuseBadArguments() async throws {
            try await withWorkspace { ws in
                let bad = try await ws.inspector("init", "--db", ws.path("x.sqlite"), "--device", "dev-x", "--fetch-attachments", "some")
                #expect(bad.status != 0 && bad.stderr.contains("all, none or own"), "\(bad)")
                #expect(!FileManager.default.fileExists(atPath: ws.path("x.sqlite")), "no replica was made")
                let a = ws.path("a.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a", "--fetch-attachments", "none"))
                #expect(try requireSuccess(try await ws.inspector("attachment", "policy", "--db", a)).stdout.contains("fetch attachments: none"))
                let wrong = try await ws.inspector("attachment", "policy", "--db", a, "everything")
                #expect(wrong.status != 0 && wrong.stderr.contains("all, none or own"), "\(wrong)")
                #expect(try requireSuccess(try await ws.inspector("attachment", "policy", "--db", a, "all")).stdout.contains("fetch attachments: all"))
                let unknown = try await ws.inspector("attachment", "get", "--db", a, "0123456789abcdef", "--out", ws.path("out.jpg"))
                #expect(unknown.status != 0 && unknown.stderr.contains("not_found"), "\(unknown)")
                let short = try await ws.inspector("attachment", "get", "--db", a, "0123", "--out", ws.path("out.jpg"))
                #expect(short.status != 0 && short.stderr.contains("first 8 or more hex digits"), "\(short)")
                let missing = try await ws.inspector("attach", "--db", a, "dev-a/9", ws.path("nothing.jpg"))
                #expect(missing.status != 0 && missing.stderr.contains("unknown_finding"), "\(missing)")
                #expect(!FileManager.default.fileExists(atPath: ws.path("out.jpg")))
            }
        }

        @Test("a file over the limit, or not a photo, scan or PDF, is refused with a clear error and nothing is recorded")
        func aFileThatCannotBeAttachedRecordsNothing() async throws {
            try await withWorkspace { ws in
                let a = ws.path("a.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", a, "--device", "dev-a"))
                let big = ws.path("quá lớn.jpg")
                try photo(32 << 20 + 1, seed: 3).write(to: URL(fileURLWithPath: big))
                let text = ws.path("ghi chú.jpg")
                try Data("không phải ảnh".utf8).write(to: URL(fileURLWithPath: text))
                let before = try await ws.logLineCount(a)
                let refused = try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--kind", "observation", "--text", "x", "--attach", big)
                #expect(refused.status != 0 && refused.stderr.contains("attachment_too_large") && refused.stderr.contains("32 MiB"), "\(refused)")
                let wrongType = try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--kind", "observation", "--text", "x", "--attach", text)
                #expect(wrongType.status != 0 && wrongType.stderr.contains("unsupported_attachment"), "\(wrongType)")
                #expect(try await ws.logLineCount(a) == before, "nothing was recorded, not even the finding")
                let finding = try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--kind", "observation", "--text", "y"))
                let attach = try await ws.inspector("attach", "--db", a, finding.lines.last!, big)
                #expect(attach.status != 0 && attach.stderr.contains("attachment_too_large"), "\(attach)")
                #expect(try await ws.logLineCount(a) == before + 1)
                let status = try requireSuccess(try await ws.inspector("status", "--db", a)).stdout
                #expect(!status.contains("files not yet at the hub"), "\(status)")
            }
        }
    }
}

import Foundation
import InspectorProtocol
import InspectorTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing

// Issue #12 with real processes: TLS by default, the pinned hub key, single-use enrollment codes.

/// A man in the middle: a TLS server with its own key, recording every byte of application data a
/// client sends it once the handshake is done (a relay would forward them to the real hub).
private final class ImpostorHub: Sendable {
    let server: any Channel
    let received = NIOLockedValueBox<[UInt8]>([])
    let identity = TLSIdentity.generate()
    var port: Int { server.localAddress?.port ?? 0 }

    final class Record: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let box: NIOLockedValueBox<[UInt8]>
        init(_ box: NIOLockedValueBox<[UInt8]>) { self.box = box }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).readableBytesView)
            box.withLockedValue { $0 += bytes }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    init() throws {
        let tls = try HubTLS(identity: identity)
        let received = self.received
        server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try tls.configure(channel, allowsPlaintext: false)
                    try channel.pipeline.syncOperations.addHandler(Record(received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }
}

extension EndToEnd {
    @Suite("Transport security: TLS, pinned keys, enrollment")
    struct TransportSecurityTests {
        @Test("a plain-TCP client gets no welcome: one upgrade_required line in clear, then the hub closes")
        func plaintextClientGetsNoWelcome() async throws {
            try await withWorkspace { ws in
                let (_, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay")])
                let port = hub.port
                let secret = try EnrollmentLine(parsing: tokens["dev-a"]!).secret
                for version in [1, 2] {
                    let client = try await offThread { try RawLineClient(plainPort: port) }
                    let answer = try client.request(#"hello {"version":\#(version),"device":"dev-a","token":"\#(secret)","time":0}"#)
                    #expect(answer.verb == "error" && answer.body["code"] as? String == "upgrade_required", "\(answer)")
                    #expect(client.receive() == nil, "the hub closed the connection")
                }
                #expect(hub.child.isRunning)
                #expect(await hub.stop())
            }
        }

        @Test("a relay presenting its own certificate is refused by the device, which sends it nothing; the error names both keys")
        func manInTheMiddleIsRefused() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay")])
                let a = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "note", "Biên bản kiểm tra"))
                let impostor = try ImpostorHub()
                defer { impostor.server.close(promise: nil) }
                let sync = try await ws.inspector("sync", "--db", a, "--hub", "127.0.0.1:\(impostor.port)")
                #expect(sync.status == 1 && !sync.timedOut, "\(sync)")
                #expect(sync.stderr.contains("hub_key_mismatch"), "\(sync)")
                #expect(sync.stderr.contains(impostor.identity.fingerprint.description), "names the presented key: \(sync)")
                let pinned = try #require(try EnrollmentLine(parsing: tokens["dev-a"]!).hubKey)
                #expect(sync.stderr.contains(pinned.description), "names the pinned key: \(sync)")
                try await Task.sleep(for: .milliseconds(200))
                #expect(impostor.received.withLockedValue { $0 }.isEmpty, "the device sent no application data to the impostor")
                // The real hub, at its real address, still works for the device.
                try requireSuccess(try await ws.inspector("sync", "--db", a, "--hub", hub.address))
                #expect(try await hubOperationCount(ws, hubDB) == 1)
                #expect(await hub.stop())
            }
        }

        @Test("traffic captured on the path holds neither the enrollment secret nor any checklist text")
        func capturedTrafficIsOpaque() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay"), ("dev-b", "muong-lay")])
                let relay = try RecordingRelay(upstreamPort: Int(hub.port))
                defer { relay.stop() }
                let path = "127.0.0.1:\(relay.port)"
                let a = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                let b = try await ws.initDevice("dev-b", hub: hub, token: tokens["dev-b"]!)
                let note = "Đã kiểm tra hồ sơ khen thưởng của Ủy ban nhân dân thị xã Mường Lay"
                let finding = "Quỹ thi đua, khen thưởng trích lập thấp hơn mức quy định"
                try requireSuccess(try await ws.inspector("set", "--db", a, "muong-lay", "II.4", "note", note))
                try requireSuccess(try await ws.inspector("finding", "add", "--db", a, "--unit", "muong-lay", "--item", "II.5",
                                                          "--kind", "shortcoming", "--text", finding))
                try requireSuccess(try await ws.inspector("sync", "--db", a, "--hub", path))
                try requireSuccess(try await ws.inspector("sync", "--db", b, "--hub", path))
                let shown = try requireSuccess(try await ws.inspector("show", "--db", b, "--unit", "muong-lay"))
                #expect(shown.stdout.contains(note) && shown.stdout.contains(finding), "the data went through: \(shown)")
                let captured = relay.bytes
                #expect(captured.count > 1000)
                for (what, needle) in [("dev-a's secret", try EnrollmentLine(parsing: tokens["dev-a"]!).secret),
                                       ("dev-b's secret", try EnrollmentLine(parsing: tokens["dev-b"]!).secret),
                                       ("the note", note), ("the finding", finding), ("a Vietnamese word", "Mường"),
                                       ("the unit id", "muong-lay"), ("a verb", "hello {")] {
                    #expect(!contains(captured, bytes(needle)), "\(what) crossed the network in clear")
                }
                #expect(try await hubOperationCount(ws, hubDB) == 2)
                #expect(await hub.stop())
            }
        }

        @Test("an enrollment code enrolls one replica: a second one presenting it is refused with enrollment_used, nothing applied")
        func reusedEnrollmentCodeIsRefused() async throws {
            try await withWorkspace { ws in
                let (hubDB, hub, tokens) = try await ws.startEnrolledHub(devices: [("dev-a", "muong-lay")])
                let first = try await ws.initDevice("dev-a", hub: hub, token: tokens["dev-a"]!)
                let copy = ws.path("copy-of-dev-a.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", copy, "--device", "dev-a", "--hub", hub.address, "--token", tokens["dev-a"]!))
                try requireSuccess(try await ws.inspector("set", "--db", first, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("sync", "--db", first))
                try requireSuccess(try await ws.inspector("set", "--db", copy, "muong-lay", "II.4", "status", "not_started"))
                let refused = try await ws.inspector("sync", "--db", copy)
                #expect(refused.status == 1 && refused.stderr.contains("enrollment_used"), "\(refused)")
                #expect(try await hubOperationCount(ws, hubDB) == 1)
                // The enrolled replica goes on; after a re-enrollment the new line enrolls the copy and the old key is refused.
                try requireSuccess(try await ws.inspector("sync", "--db", first))
                let reenrolled = try requireSuccess(try await ws.hub("device", "reenroll", "--db", hubDB, "--device", "dev-a"))
                let line = try #require(reenrolled.lines.last)
                try requireSuccess(try await ws.inspector("link", "--db", copy, "--hub", hub.address, "--token", line))
                try requireSuccess(try await ws.inspector("sync", "--db", copy))
                let old = try await ws.inspector("sync", "--db", first)
                #expect(old.status == 1 && old.stderr.contains("unauthorized"), "\(old)")
                #expect(await hub.stop())
            }
        }

        @Test("an enrollment code carries device, hub and line: 'inspector init --enroll' alone sets up a replica that syncs")
        func enrollmentCodeSetsUpAReplica() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let hub = try await ws.startHub(hubDB)
                let added = try requireSuccess(try await ws.hub("device", "add", "--db", hubDB, "--device", "dev-q", "--units", "muong-lay",
                                                                "--address", hub.address, "--qr"))
                let code = try #require(added.lines.last)
                #expect(code.hasPrefix("inspector://dev-q@\(hub.address)/"), "\(added)")
                #expect(code.utf8.count < 160, "short enough for a small QR code: \(code.utf8.count) bytes")
                #expect(added.stdout.contains("█") || added.stdout.contains("▀"), "a QR code is drawn: \(added)")
                let db = ws.path("dev-q.sqlite")
                let created = try requireSuccess(try await ws.inspector("init", "--db", db, "--enroll", code))
                #expect(created.stdout.contains("for device dev-q") && created.stdout.contains("pinned the hub's key"), "\(created)")
                let key = try FileManager.default.attributesOfItem(atPath: db + ".key")
                #expect((key[.posixPermissions] as? NSNumber)?.intValue == 0o600, "the device key is readable by its owner only")
                let keyText = try String(contentsOfFile: db + ".key", encoding: .utf8)
                #expect(!created.stdout.contains(keyText.split(separator: "\n")[1]), "the private key is never printed")
                try requireSuccess(try await ws.inspector("set", "--db", db, "muong-lay", "II.4", "status", "done"))
                try requireSuccess(try await ws.inspector("sync", "--db", db))
                #expect(try await hubOperationCount(ws, hubDB) == 1)
                // Both keys can be read back: the pinned one is the hub's, the device's is the one the hub enrolled.
                let status = try requireSuccess(try await ws.inspector("status", "--db", db)).stdout
                let hubStatus = try requireSuccess(try await ws.hub("status", "--db", hubDB)).stdout
                let hubKey = try #require(hubStatus.split(separator: "\n").first { $0.hasPrefix("hub key: ") }).dropFirst("hub key: ".count)
                #expect(status.contains("hub key pinned at enrollment: \(hubKey)"), "\(status)")
                let deviceKey = try #require(status.split(separator: "\n").first { $0.hasPrefix("this device's key: sha256:") })
                    .dropFirst("this device's key: ".count).prefix(50)
                #expect(hubStatus.contains("key: \(deviceKey), enrolled"), "\(hubStatus)")
                let bad = try await ws.inspector("init", "--db", ws.path("x.sqlite"), "--enroll", "inspector://dev-q@\(hub.address)/nokey")
                #expect(bad.status != 0 && bad.stderr.contains("bad_key"), "\(bad)")
                #expect(!FileManager.default.fileExists(atPath: ws.path("x.sqlite")), "a refused code creates nothing")
                #expect(await hub.stop())
            }
        }

        @Test("a lab hub with --insecure-plaintext says so loudly and serves plain TCP with bearer tokens; TLS still works")
        func labHubServesPlaintext() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                let token = try await enroll(ws, hub: hubDB, device: "dev-a", units: "muong-lay")
                let tokenB = try await enroll(ws, hub: hubDB, device: "dev-b", units: "muong-lay")
                let hub = try await ws.startHub(hubDB, extraArguments: ["--insecure-plaintext"])
                #expect(hub.child.waitForLine(onStderr: true, timeout: 10) { $0.contains("insecure-plaintext") } != nil)
                let port = hub.port
                let secret = try EnrollmentLine(parsing: token).secret
                let client = try await offThread { try RawLineClient(plainPort: port) }
                let welcome = try client.request(#"hello {"version":2,"device":"dev-a","token":"\#(secret)","time":0}"#)
                #expect(welcome.verb == "welcome", "\(welcome)")
                let secretOnly = ws.path("lab.sqlite")
                try requireSuccess(try await ws.inspector("init", "--db", secretOnly, "--device", "dev-b", "--hub", hub.address,
                                                          "--token", try EnrollmentLine(parsing: tokenB).secret))
                let refused = try await ws.inspector("sync", "--db", secretOnly)
                #expect(refused.status == 1 && refused.stderr.contains("not_configured"), "no plain TCP unless asked: \(refused)")
                try requireSuccess(try await ws.inspector("sync", "--db", secretOnly, "--insecure-plaintext"))
                let tls = try await ws.initDevice("dev-c-tls", hub: hub, token: try await enroll(ws, hub: hubDB, device: "dev-c-tls", units: "muong-lay"))
                try requireSuccess(try await ws.inspector("sync", "--db", tls))
                #expect(await hub.stop())
            }
        }
    
        @Test("enrollment options that do not go together, or cannot be read, are refused with a clear error; nothing changes")
        func enrollmentOptionsAreChecked() async throws {
            try await withWorkspace { ws in
                let hubDB = ws.path("hub.sqlite")
                try requireSuccess(try await ws.hub("init", "--db", hubDB))
                for (arguments, says) in [
                    (["--qr"], "needs --address"),
                    (["--address", "0.0.0.0:7420"], "not a listening wildcard"),
                    (["--address", "hub:0"], "not a listening wildcard"),
                    (["--address", "no-port"], "HOST:PORT"),
                    (["--valid-days", "0"], "--valid-days is from 1 to 365"),
                    (["--valid-days", "366"], "--valid-days is from 1 to 365"),
                ] {
                    let refused = try await ws.hub(arguments: ["device", "add", "--db", hubDB, "--device", "dev-a", "--units", "muong-lay"] + arguments)
                    #expect(refused.status != 0 && refused.stderr.contains(says), "\(arguments): \(refused)")
                }
                #expect(!(try requireSuccess(try await ws.hub("status", "--db", hubDB)).stdout.contains("- dev-a")), "a refused enrollment enrolled")
                let line = try await enroll(ws, hub: hubDB, device: "dev-a", units: "muong-lay")
                let db = try await ws.initDevice("dev-a", hub: try await ws.startHub(hubDB), token: line)
                let before = try requireSuccess(try await ws.inspector("status", "--db", db)).stdout
                for (arguments, says) in [
                    ([String](), "give --hub HOST:PORT --token LINE"),
                    (["--hub-key", "sha256:nope"], "bad_key"),
                    (["--hub-key", try #require(EnrollmentLine(parsing: line).hubKey).description, "--token", line], "--hub-key keeps the saved secret"),
                    (["--enroll", "inspector://dev-a@10.0.0.5:7420/\(line)", "--hub", "10.0.0.5:7420"], "leave out --hub and --token"),
                    (["--enroll", "inspector://dev-b@10.0.0.5:7420/\(line)"], "is for device 'dev-b', not 'dev-a'"),
                    (["--hub", "10.0.0.5:7420"], "--hub and --token go together"),
                    (["--hub", "10.0.0.5:7420", "--token", "abc@sha256:short"], "bad_key"),
                ] {
                    let refused = try await ws.inspector(arguments: ["link", "--db", db] + arguments)
                    #expect(refused.status != 0 && refused.stderr.contains(says), "\(arguments): \(refused)")
                }
                #expect(try requireSuccess(try await ws.inspector("status", "--db", db)).stdout == before, "a refused link changed the replica")
            }
        }
}
}

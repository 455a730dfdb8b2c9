import Foundation
import InspectorCore
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS
import NIOCore
import NIOPosix
import Testing
@testable import InspectorTestSupport

/// Replays the device side of the vectors: a fake hub answers with the transcript's `S:` lines
/// after checking each line the real `SyncClient` sends against the transcript's `C:` lines.
@Suite("Protocol vectors, device side")
struct ClientVectorReplayTests {
    /// The transcripts that are one complete device sync (`client-replay:` in their header).
    static var clientTranscripts: [String] {
        Vectors.transcripts.filter { (try? Vectors.transcript($0).clientReplay) != nil }
    }

    @Test("SyncClient speaks the transcript", arguments: clientTranscripts)
    func transcript(_ name: String) async throws {
        try await replay(name, compresses: true)
    }

    /// A device that offers no compression replays every transcript too, `compression-offer.txt`
    /// included: the fake hub leaves out a choice the device did not offer (`Protocol/vectors/README.md`).
    @Test("SyncClient without compression speaks the transcript", arguments: clientTranscripts)
    func transcriptWithoutCompression(_ name: String) async throws {
        try await replay(name, compresses: false)
    }

    private func replay(_ name: String, compresses: Bool) async throws {
        let transcript = try Vectors.transcript(name)
        let replay = try #require(transcript.clientReplay)
        try #require(transcript.plan == builtInPlan.id)
        try #require(!transcript.steps.contains(.connect) && !transcript.steps.contains(.close),
                     "a client-replay transcript is one connection")
        let directory = TemporaryDirectory()
        // The device's wall clock stands at the hub's (Protocol/vectors/README.md): its measured
        // offset is 0, so the first handshake corrects nothing (PROTOCOL.md 9.7) and the
        // transcript's ops are within the future tolerance (7.4).
        let deviceClock = transcript.hubClock ?? fixedHubTime
        let store = try ReplicaStore.create(at: directory.path("\(replay.device).sqlite"), device: replay.device,
                                            plan: builtInPlan, clock: { deviceClock })
        // The device's own ops, as if it had recorded them (a copy of its log), and any others it holds.
        let local = try wireOps(transcript.localOps)
        try store.restoreOwnOperations(local.filter { $0.device == replay.device })
        try store.merge(local.filter { $0.device != replay.device })
        let token = "token-of-\(replay.device)"
        let substitutions = Substitutions(tokens: [replay.device: token], planDigest: builtInPlan.digest,
                                          hubTime: transcript.hubClock ?? fixedHubTime)
        let hub = try await FakeHub.start(transcript: transcript, substitutions: substitutions)
        // Over TLS, as a device speaks to any hub (Protocol/vectors/README.md): the fake hub's key pinned.
        let line = EnrollmentLine(secret: token, hubKey: FakeHub.identity.fingerprint).description
        let client = try SyncClient(store: store, address: HubAddress(host: "127.0.0.1", port: hub.port), token: line,
                                    batchSize: replay.batchSize, responseTimeout: .seconds(10), compresses: compresses)
        let outcome: Result<SyncClient.Summary, any Error>
        do { outcome = .success(try await client.sync()) } catch { outcome = .failure(error) }
        let problems = await hub.finish()
        for problem in problems { Issue.record("\(name): \(problem)") }
        guard problems.isEmpty else { return }
        let summary = try outcome.get()

        // What the device must have kept, read from the transcript's hub lines.
        let expected = try Expectations(transcript, substitutions: substitutions)
        #expect(summary.confirmed == expected.confirmed)
        let savedConfirmed = try await store.syncState().confirmed
        #expect(savedConfirmed == expected.confirmed)
        let savedCursor = try await store.syncState().pullCursor
        #expect(savedCursor == expected.cursor)
        #expect(summary.refused.map(\.sequence) == expected.refused)
        #expect(summary.pulled == expected.pulled.count)
        #expect(summary.pushed == expected.applied)
        #expect(try store.scope() == Set(expected.scope))
        let held = Set(try store.operations().map(\.operation))
        for op in expected.pulled { #expect(held.contains(op), "\(name): the device does not hold pulled \(op.device)#\(op.sequence)") }
        #expect(held.count == local.count + expected.pulled.count)
        let status = try SyncStatus(store: store)
        #expect(status.refused.map(\.sequence) == expected.refused)
        #expect(status.pending == 0, "after a complete sync nothing is only on the device")
    }

    @Test("bundle imports into a device replica as its vector says", arguments: Vectors.bundles)
    func bundle(_ name: String) async throws {
        let expectation = try #require(bundleExpectations[name])
        let directory = TemporaryDirectory()
        let store = try makeDevice(directory, "dev-r")
        // The keys the hub listed at the last sync (PROTOCOL.md 19.4): dev-a's and dev-b's.
        var keys: [String: String] = [:]
        for author in VectorKeys.authors {
            keys[author] = try TLSIdentity(privateKeyPEM: VectorKeys.privateKeyPEM(author)).fingerprint.description
        }
        try await store.recordAuthorKeys(keys)
        let url = Vectors.directory.appendingPathComponent(name)
        do {
            let result = try BundleTransfer.import(from: url, into: store)
            #expect(expectation.applied != nil, "\(name): the import must fail with \(expectation.errorCode ?? "")")
            #expect(result.applied == expectation.applied)
            #expect(try BundleTransfer.import(from: url, into: store).duplicates == result.applied)
        } catch {
            let (code, message): (String, String) = switch error {
            case let error as ProtocolError: (error.code.rawValue, error.message)
            case let error as CoreError: (error.code.rawValue, error.message)
            case let error as StoreError: (error.code.rawValue, error.message)
            default: ("unknown", "\(error)")
            }
            #expect(expectation.applied == nil, "\(name): the import must succeed; it failed with \(code): \(message)")
            #expect(code == expectation.errorCode, "\(name): \(message)")
            if let fragment = expectation.messageContains {
                #expect(message.contains(fragment), "\(name): '\(message)' does not contain '\(fragment)'")
            }
            #expect(try store.operationCount() == 0, "a refused bundle imports nothing")
        }
    }

    @Test("the device side replays at least the complete syncs")
    func coverage() throws {
        let replayed = Set(Self.clientTranscripts)
        #expect(replayed.contains("push-and-pull.txt"))
        #expect(replayed.contains("refused-op-set-aside.txt"))
        #expect(replayed.contains("pull-paging.txt"))
        #expect(replayed.contains("compression-offer.txt"))
        for name in Vectors.bundles { #expect(bundleExpectations[name] != nil, "\(name) is not replayed") }
    }
}

/// The rule of `Protocol/vectors/README.md` for the lines a device sends: what it must send, what it may.
@Suite("Protocol vectors, what a device may send")
struct DeviceLineRuleTests {
    let context = MatchContext(hubTime: nil, checkPlan: { _ in nil })

    func accepts(_ expected: String, _ actual: String) -> Bool {
        deviceLineDifference(expected: expected, actual: Array(actual.utf8), context: context) == nil
    }

    @Test("hello: the clock is any integer; plan_digest and compress are optional")
    func hello() {
        let expected = #"hello {"version":2,"device":"dev-a","token":"t0k","time":1718852520000,"plan_digest":"\#(String(repeating: "a", count: 64))"}"#
        #expect(accepts(expected, #"hello {"version":2,"device":"dev-a","token":"t0k","time":5}"#))
        #expect(accepts(expected, #"hello {"time":7,"token":"t0k","device":"dev-a","version":2,"plan_digest":null,"compress":["deflate","x-new"]}"#))
        #expect(accepts(expected, #"hello {"version":2,"device":"dev-a","token":"t0k","time":5,"plan_digest":"\#(String(repeating: "b", count: 64))","compress":[]}"#))
        #expect(!accepts(expected, #"hello {"version":2,"device":"dev-a","token":"t0k","time":"5"}"#), "time is an integer")
        #expect(!accepts(expected, #"hello {"version":2,"device":"dev-a","token":"other","time":5}"#), "the token is pinned")
        #expect(!accepts(expected, #"hello {"version":2,"device":"dev-a","token":"t0k","time":5,"plan_digest":"ABC"}"#), "a digest is 64 lowercase hex digits")
        #expect(!accepts(expected, #"hello {"version":2,"device":"dev-a","token":"t0k","time":5,"compress":"deflate"}"#), "compress is an array")
        #expect(!accepts(expected, #"hello {"version":2,"device":"dev-a","token":"t0k","time":5,"extra":1}"#), "no member version 1 does not define")
    }

    @Test("push: the ops are pinned; withdrawn is a set, and may be left out when empty")
    func push() {
        let op = #"{"d":"dev-a","s":1,"t":1718845320000,"c":0,"k":"finding_add","u":"muong-lay","n":"dev-a/1","fk":"observation","v":"Tốt"}"#
        let reordered = #"{"v":"Tốt","fk":"observation","n":"dev-a/1","u":"muong-lay","k":"finding_add","c":0,"t":1718845320000,"s":1,"d":"dev-a","i":null}"#
        #expect(accepts(#"push {"ops":[\#(op)],"withdrawn":[]}"#, #"push {"ops":[\#(reordered)]}"#))
        #expect(accepts(#"push {"ops":[],"withdrawn":[2,3]}"#, #"push {"withdrawn":[3,2],"ops":[]}"#))
        #expect(!accepts(#"push {"ops":[],"withdrawn":[2]}"#, #"push {"ops":[]}"#), "a set-aside number must be listed")
        #expect(!accepts(#"push {"ops":[],"withdrawn":[2]}"#, #"push {"ops":[],"withdrawn":[2,2]}"#), "each number once")
        #expect(!accepts(#"push {"ops":[\#(op)]}"#, #"push {"ops":[\#(op.replacingOccurrences(of: "Tốt", with: "Khá"))]}"#))
        #expect(!accepts(#"push {"ops":[\#(op)]}"#, #"push {"ops":[\#(op.replacingOccurrences(of: "}", with: ",\"x\":1}"))]}"#), "no unknown op key")
        #expect(!accepts(#"push {"ops":[\#(op)]}"#, #"push {"ops":[]}"#))
    }

    @Test("pull: the cursor is pinned; limit and held_back are optional")
    func pull() {
        let expected = #"pull {"cursor":5,"limit":1000}"#
        #expect(accepts(expected, #"pull {"cursor":5}"#))
        #expect(accepts(expected, #"pull {"limit":2000,"cursor":5}"#))
        #expect(accepts(expected, #"pull {"cursor":5,"held_back":{"count":0,"ops":[]}}"#))
        #expect(accepts(expected, #"pull {"cursor":5,"held_back":{"count":3,"ops":[{"d":"dev-b","s":3,"code":"unknown_item","message":"…"}]}}"#))
        #expect(!accepts(expected, #"pull {"cursor":4,"limit":1000}"#))
        #expect(!accepts(expected, #"pull {"cursor":5,"held_back":{"count":0}}"#))
        #expect(!accepts(expected, #"pull {"cursor":5,"limit":"1000"}"#))
        #expect(!accepts(#"bye {}"#, #"pull {"cursor":5}"#))
    }

    @Test("the fake hub's welcome answers the hello the device sent")
    func welcome() {
        let digest = String(repeating: "a", count: 64)
        let line = Array(#"welcome {"version":2,"time":1,"confirmed":0,"scope":[],"units":[],"plan_digest":"\#(digest)","compress":"deflate"}"#.utf8)
        func hello(_ text: String) -> VJSON? { try? VJSONParser.parse(Array(text.utf8)) }
        let same = hello(#"{"version":2,"plan_digest":"\#(digest)","compress":["deflate"]}"#)
        #expect(adaptedWelcome(line, hello: same, hubDigest: digest) == line)
        let plain = adaptedWelcome(line, hello: hello(#"{"version":2,"plan_digest":"\#(digest)"}"#), hubDigest: digest)
        #expect(negotiatedCompression(String(decoding: plain, as: UTF8.self)) == nil)
        #expect(!String(decoding: plain, as: UTF8.self).contains("<plan>"))
        let withPlan = String(decoding: adaptedWelcome(line, hello: hello(#"{"version":2,"compress":["deflate"]}"#), hubDigest: digest), as: UTF8.self)
        #expect(withPlan.hasSuffix(#","plan":<plan>}"#))
        #expect(negotiatedCompression(withPlan) == "deflate")
    }
}

/// What a complete sync leaves on the device, read from a transcript.
struct Expectations {
    var confirmed: Int64 = 0
    var cursor: Int64 = 0
    var refused: [Int64] = []
    var applied = 0
    var pulled: [Op] = []
    var scope: [String] = []

    init(_ transcript: Transcript, substitutions: Substitutions) throws {
        for step in transcript.steps {
            guard case .expect(let template) = step else { continue }
            let text = try substitutions.text(template)
            guard let (verb, body) = splitLine(Array(text.utf8)) else { continue }
            let value = try VJSONParser.parse(body, allowMatchers: true)
            switch verb {
            case "welcome":
                confirmed = value["confirmed"]?.intValue ?? 0
                scope = value["scope"]?.arrayValue?.compactMap(\.stringValue) ?? []
            case "pushed":
                confirmed = value["confirmed"]?.intValue ?? confirmed
                applied += Int(value["applied"]?.intValue ?? 0)
            case "ops":
                cursor = value["cursor"]?.intValue ?? cursor
                pulled += try wireOps(value["ops"]?.arrayValue?.map(\.description) ?? [])
            case "error":
                if let seq = value["seq"]?.intValue { refused.append(seq) }
            default:
                break
            }
        }
    }
}

/// A hub that follows a transcript: it checks each line the device sends against the next `C:`
/// line and answers with the `S:` lines.
final class FakeHub: Sendable {
    let port: Int
    private let task: Task<[String], Never>
    private let serverChannel: any Channel

    private init(port: Int, task: Task<[String], Never>, serverChannel: any Channel) {
        self.port = port
        self.task = task
        self.serverChannel = serverChannel
    }

    /// - Parameter adaptsWelcome: whether the welcome answers the device's hello as a hub would
    ///   (``adaptedWelcome(_:hello:hubDigest:)``); off for tests of a hub that breaks the rules.
    /// The fake hub's key; devices pin it.
    static let identity = TLSIdentity.generate()
    static let tls = try! HubTLS(identity: identity)

    static func start(transcript: Transcript, substitutions: Substitutions, adaptsWelcome: Bool = true) async throws -> FakeHub {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try tls.configure(channel, allowsPlaintext: false)
                    return try LineChannel.configure(channel, maximumLineBytes: 8 << 20)
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        let planJSON = Array(builtInPlan.encoded())
        let task = Task<[String], Never> {
            var problems: [String] = []
            do {
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        problems = await serve(connection, transcript: transcript, substitutions: substitutions, planJSON: planJSON,
                                               adaptsWelcome: adaptsWelcome)
                        break
                    }
                }
            } catch {
                problems.append("the fake hub failed: \(error)")
            }
            return problems
        }
        return FakeHub(port: port, task: task, serverChannel: server.channel)
    }

    /// Waits for the conversation to end and returns what went wrong.
    func finish() async -> [String] {
        let watchdog = Task { [serverChannel] in
            try await Task.sleep(for: .seconds(20))
            serverChannel.close(promise: nil)
        }
        defer { watchdog.cancel() }
        return await task.value
    }

    private static func serve(_ connection: LineChannel.AsyncChannel, transcript: Transcript, substitutions: Substitutions,
                              planJSON: [UInt8], adaptsWelcome: Bool) async -> [String] {
        let context = MatchContext(hubTime: nil, checkPlan: { _ in "the device never sends a plan" })
        // The body of the hello the device sent: the welcome answers it as a hub would.
        var hello: VJSON?
        do {
            return try await connection.executeThenClose { inbound, outbound in
                var lines = inbound.makeAsyncIterator()
                for (index, step) in transcript.steps.enumerated() {
                    let place = "\(transcript.name):\(transcript.stepLines[index])"
                    switch step {
                    case .send(let template):
                        let expected = try substitutions.text(template)
                        let channel = connection.channel
                        let watchdog = Task {
                            try await Task.sleep(for: .seconds(10))
                            channel.close(promise: nil)
                        }
                        let next = try? await lines.next()
                        watchdog.cancel()
                        guard let line = next else {
                            return ["\(place): expected the device to send '\(expected.prefix(100))', but it sent nothing more"]
                        }
                        let actual = Array(line.readableBytesView)
                        // Compared as JSON; optional members may be left out or differ within what
                        // version 1 allows (the device's clock, an offer of compression, a limit…).
                        if let problem = deviceLineDifference(expected: expected, actual: actual, context: context) {
                            return ["\(place): \(problem)"]
                        }
                        if expected.hasPrefix("hello "), let (_, body) = splitLine(actual) {
                            hello = try? VJSONParser.parse(body)
                        }
                    case .expect(let template):
                        var bytes = adaptsWelcome ? adaptedWelcome(try substitutions.bytes(template), hello: hello, hubDigest: substitutions.planDigest)
                            : try substitutions.bytes(template)
                        if let range = bytes.firstRange(of: Array("<plan>".utf8)) { bytes.replaceSubrange(range, with: planJSON) }
                        if bytes.contains(UInt8(ascii: "<")), String(decoding: bytes, as: UTF8.self).contains("<any-") {
                            return ["\(place): a client-replay transcript cannot use <any-…> in S: lines"]
                        }
                        if negotiatedCompression(String(decoding: bytes, as: UTF8.self)) == "deflate" {
                            // The welcome goes out plain, after the inflater is in place; every later
                            // byte both ways is in the DEFLATE streams (PROTOCOL.md 18.3).
                            let channel = connection.channel
                            let welcome = ByteBuffer(bytes: bytes + [0x0A])
                            _ = try await channel.eventLoop.submit {
                                try TestDeflate.install(on: channel, writingFirst: welcome)
                            }.get()
                        } else {
                            try await outbound.write(ByteBuffer(bytes: bytes + [0x0A]))
                        }
                    case .expectClosed:
                        return []
                    case .close, .connect:
                        return ["\(place): a client-replay transcript is one connection"]
                    }
                }
                // The transcript ends with the connection open: the device must not send more.
                return []
            }
        } catch {
            return ["the fake hub's connection failed: \(error)"]
        }
    }
}

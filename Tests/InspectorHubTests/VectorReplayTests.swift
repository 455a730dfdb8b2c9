import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import InspectorTLS
import Testing
@testable import InspectorTestSupport

/// Replays every transcript of `Protocol/vectors/` against a live hub, and imports every bundle.
@Suite("Protocol vectors, hub side")
struct VectorReplayTests {
    @Test("transcript replays against a live hub", arguments: Vectors.transcripts)
    func transcript(_ name: String) async throws {
        let transcript = try Vectors.transcript(name)
        try #require(transcript.plan == builtInPlan.id, "the vectors use the built-in plan")
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory, clock: transcript.hubClock ?? fixedHubTime)
        for unit in transcript.units {
            try hub.addUnit(JSONDecoder().decode(Plan.Unit.self, from: Data(unit.utf8)))
        }
        var tokens: [String: String] = [:]
        for device in transcript.devices {
            tokens[device.id] = try hub.addDevice(device.id, units: device.units, name: device.name)
        }
        for id in transcript.revoked { try hub.revokeDevice(id) }
        let ops = try wireOps(transcript.hubOps)
        if !ops.isEmpty {
            try await hub.importTrustedOperations(ops)
        }
        let live = try await LiveHub.start(hub, in: directory)
        let substitutions = Substitutions(tokens: tokens, planDigest: builtInPlan.digest, hubTime: transcript.hubClock)
        do {
            try await HubReplay(transcript: transcript, substitutions: substitutions, port: live.port).run()
        } catch {
            Issue.record("\(name): \(error)")
        }
        await live.stop()
    }

    @Test("bundle imports into a hub as its vector says", arguments: Vectors.bundles)
    func bundle(_ name: String) async throws {
        let expectation = try #require(bundleExpectations[name], "\(name) has no expectation in VectorSupport.swift and README.md")
        let directory = TemporaryDirectory()
        let hub = try makeHub(directory)
        // The importer knows dev-a's and dev-b's keys: they enrolled them (PROTOCOL.md 9.8).
        for author in VectorKeys.authors {
            let line = try hub.addDevice(author, units: ["muong-lay", "so-y-te"], name: nil)
            let key = try TLSIdentity(privateKeyPEM: VectorKeys.privateKeyPEM(author)).fingerprint
            #expect(try await hub.authenticate(device: author, token: line, key: key) != nil)
        }
        let data = try Vectors.data(name)
        do {
            let bundle = try BundleFile.decode(data)
            let result = try await hub.importBundle(bundle)
            guard let applied = expectation.applied else {
                Issue.record("\(name): the import succeeded (\(result.applied) applied) but must fail with \(expectation.errorCode ?? "")")
                return
            }
            #expect(result.applied == applied)
            #expect(try hub.replica.operationCount() == applied)
            let again = try await hub.importBundle(BundleFile.decode(data))
            #expect(again.applied == 0, "a second import changes nothing")
            #expect(again.duplicates == applied)
        } catch {
            let (code, message) = describe(error)
            #expect(expectation.applied == nil, "\(name): the import must succeed; it failed with \(code): \(message)")
            #expect(code == expectation.errorCode, "\(name): \(message)")
            if let fragment = expectation.messageContains {
                #expect(message.contains(fragment), "\(name): '\(message)' does not contain '\(fragment)'")
            }
            #expect(try hub.replica.operationCount() == 0, "a refused bundle imports nothing")
        }
    }

    @Test("every file of Protocol/vectors is replayed")
    func everyVectorIsUsed() throws {
        let files = Vectors.allFiles
        #expect(files.count >= 10)
        for file in files {
            let replayed = file.hasSuffix(".txt") || (file.hasSuffix(".bundle") && bundleExpectations[file] != nil)
            #expect(replayed, "\(file) is not replayed by any test")
        }
        for name in bundleExpectations.keys {
            #expect(files.contains(name), "\(name) is expected but missing from Protocol/vectors")
        }
        for name in Vectors.transcripts {
            let transcript = try Vectors.transcript(name)
            #expect(!transcript.steps.isEmpty, "\(name) has no C:/S: lines")
        }
    }
}

/// What an error says: its stable code and message.
func describe(_ error: any Error) -> (code: String, message: String) {
    switch error {
    case let error as ProtocolError: (error.code.rawValue, error.message)
    case let error as CoreError: (error.code.rawValue, error.message)
    case let error as StoreError: (error.code.rawValue, error.message)
    case let error as HubError: (error.code.rawValue, error.message)
    default: ("unknown", "\(error)")
    }
}

/// Drives a live hub through a transcript over raw TCP connections.
struct HubReplay {
    let transcript: Transcript
    let substitutions: Substitutions
    let port: Int

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    var context: MatchContext {
        MatchContext(hubTime: transcript.hubClock, checkPlan: { value in
            do {
                let plan = try Plan.decode(from: Data(value.description.utf8))
                if plan != builtInPlan { return "the plan sent differs from the hub's plan" }
                if plan.digest != builtInPlan.digest { return "the plan sent does not have the hub's digest" }
                return nil
            } catch {
                return "the plan sent does not decode: \(error)"
            }
        })
    }

    func run() async throws {
        let steps = transcript.steps
        var index = 0
        while index < steps.count {
            if steps[index] == .connect { index += 1 }
            index = try await RawClient.with(port: port) { session in
                try await serve(&session, from: index)
            }
        }
    }

    /// Runs the steps of one connection; returns the index of the first step after it.
    private func serve(_ session: inout RawClient.Session, from start: Int) async throws -> Int {
        let steps = transcript.steps
        var index = start
        while index < steps.count {
            let where_ = "\(transcript.name):\(transcript.stepLines[index])"
            switch steps[index] {
            case .connect:
                return index
            case .close:
                return index + 1
            case .send(let template):
                try await session.send(substitutions.bytes(template))
            case .expect(let template):
                let expected = try substitutions.text(template)
                switch await session.next() {
                case .line(let actual):
                    if let problem = compare(expected: expected, actual: actual) { throw Failure(description: "\(where_): \(problem)") }
                    if let compression = negotiatedCompression(expected) {
                        // The rest of this connection's lines travel inside the DEFLATE streams: they
                        // are compared once inflated, never as compressed bytes.
                        guard compression == "deflate" else { throw Failure(description: "\(where_): this harness speaks only deflate") }
                        try await session.enableCompression()
                    }
                case .closed:
                    throw Failure(description: "\(where_): expected '\(expected.prefix(120))', but the hub closed the connection")
                case .timedOut:
                    throw Failure(description: "\(where_): expected '\(expected.prefix(120))', but nothing arrived")
                }
            case .expectClosed:
                switch await session.next() {
                case .closed: return index + 1
                case .line(let actual):
                    throw Failure(description: "\(where_): expected the hub to close, got \(String(decoding: actual.prefix(200), as: UTF8.self))")
                case .timedOut:
                    throw Failure(description: "\(where_): expected the hub to close, but the connection stayed open")
                }
            }
            index += 1
        }
        return index
    }

    /// Byte for byte when the expected line holds no matcher (the reference hub's own key order);
    /// otherwise value by value.
    private func compare(expected: String, actual: [UInt8]) -> String? {
        if !expected.contains("<") {
            guard Array(expected.utf8) != actual else { return nil }
            let semantic = lineDifference(expected: expected, actual: actual, context: context)
            return semantic ?? "the line has the expected values but not the reference bytes:\n  expected: \(expected)\n  actual:   \(String(decoding: actual, as: UTF8.self))"
        }
        return lineDifference(expected: expected, actual: actual, context: context)
    }
}

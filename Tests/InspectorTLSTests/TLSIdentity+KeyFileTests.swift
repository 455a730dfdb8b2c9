import Foundation
import InspectorProtocol
import Testing
@testable import InspectorTLS

@Suite struct TLSIdentityKeyFileTests {
    private func temporaryPath(_ name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(name).path
    }

    @Test("a new key file is made with permissions 0600 and read back as the same key")
    func createsPrivateFile() throws {
        let path = try temporaryPath("device.sqlite.key")
        let made = try TLSIdentity.loadOrCreate(keyFile: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let again = try TLSIdentity.loadOrCreate(keyFile: path)
        #expect(again.fingerprint == made.fingerprint)
        #expect(try TLSIdentity.load(keyFile: path)?.fingerprint == made.fingerprint)
        // No temporary file is left beside it.
        let siblings = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        #expect(siblings == ["device.sqlite.key"])
    }

    @Test("no file: load answers nil")
    func missingFile() throws {
        #expect(try TLSIdentity.load(keyFile: try temporaryPath("none.key")) == nil)
    }

    @Test("a file that holds no key is refused with bad_key naming the file, and left as it is")
    func garbageFile() throws {
        let path = try temporaryPath("broken.key")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try TLSIdentity.loadOrCreate(keyFile: path)
            Issue.record("a file without a key was taken")
        } catch {
            #expect(error.code == .badKey)
            #expect(error.message.contains(path))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("garbage".utf8))
    }

    @Test("a key file in a folder that does not exist is refused with bad_key")
    func unwritableFolder() throws {
        let path = try temporaryPath("missing/folder/key")
        #expect(throws: ProtocolError.self) { try TLSIdentity.loadOrCreate(keyFile: path) }
    }

    @Test("processes racing to make one key file all end up with one key")
    func racingCreators() async throws {
        let path = try temporaryPath("raced.key")
        let fingerprints = try await withThrowingTaskGroup(of: KeyFingerprint.self) { group in
            for _ in 0..<8 { group.addTask { try TLSIdentity.loadOrCreate(keyFile: path).fingerprint } }
            return try await group.reduce(into: Set<KeyFingerprint>()) { $0.insert($1) }
        }
        #expect(fingerprints.count == 1)
        #expect(try TLSIdentity.load(keyFile: path)?.fingerprint == fingerprints.first)
    }
}

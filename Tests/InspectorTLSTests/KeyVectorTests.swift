import Foundation
import InspectorProtocol
import Testing
@testable import InspectorTLS

/// Replays `Protocol/vectors/keys/` (PROTOCOL.md 2.8, 9.8).
@Suite struct KeyVectorTests {
    static let directory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("Protocol/vectors/keys", isDirectory: true)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        fatalError("Protocol/vectors/keys not found above \(#filePath)")
    }()

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    static func records(_ name: String, separator: Character) throws -> [[String]] {
        try text(name).split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { $0.split(separator: separator, omittingEmptySubsequences: false).map(String.init) }
    }

    @Test("each key file gives the SubjectPublicKeyInfo and the fingerprint listed, and so does its certificate")
    func fingerprints() throws {
        let records = try Self.records("fingerprints.txt", separator: " ")
        #expect(records.count == 3)
        for record in records {
            let identity = try TLSIdentity(privateKeyPEM: try Self.text(record[0]))
            let spki = identity.privateKey.publicKey.derRepresentation.map { String(format: "%02x", $0) }.joined()
            #expect(spki == record[1], "\(record[0])")
            #expect(identity.fingerprint.description == record[2], "\(record[0])")
            #expect(try KeyFingerprint(parsing: record[2]) == identity.fingerprint)
            #expect(try KeyFingerprint(certificate: identity.makeCertificate(commonName: "vector")) == identity.fingerprint)
        }
    }

    @Test("lines and codes read into the parts listed and print back the same; the bad ones are refused with bad_key")
    func enrollment() throws {
        var seen: Set<String> = []
        for record in try Self.records("enrollment.txt", separator: "\t") {
            seen.insert(record[0])
            switch record[0] {
            case "line":
                let line = try EnrollmentLine(parsing: record[1])
                #expect(line.secret == record[2])
                #expect(line.hubKey?.description == record[3])
                #expect(line.description == record[1])
            case "code":
                let code = try EnrollmentCode(parsing: record[1])
                #expect(code.device == record[2])
                #expect(code.address.description == record[3])
                #expect(code.line.description == record[4])
                #expect(code.description == record[1])
            case "bad-line":
                #expect(throws: ProtocolError.self, "\(record[1])") { try EnrollmentLine(parsing: record[1]) }
                do { _ = try EnrollmentLine(parsing: record[1]) } catch { #expect(error.code == .badKey) }
            case "bad-code":
                #expect(throws: ProtocolError.self, "\(record[1])") { try EnrollmentCode(parsing: record[1]) }
                do { _ = try EnrollmentCode(parsing: record[1]) } catch { #expect(error.code == .badKey) }
            default:
                Issue.record("unknown kind '\(record[0])'")
            }
        }
        #expect(seen == ["line", "code", "bad-line", "bad-code"])
    }

    @Test("every file of the folder is used")
    func everyFileUsed() throws {
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: Self.directory.path))
        #expect(names == ["README.md", "fingerprints.txt", "enrollment.txt", "hub.pem", "device-a.pem", "device-b.pem"])
    }
}

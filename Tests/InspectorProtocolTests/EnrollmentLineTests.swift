import InspectorCore
import InspectorProtocol
import Testing

@Suite struct EnrollmentLineTests {
    static let fingerprint = "sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ"

    @Test("SECRET@FINGERPRINT reads into its parts and prints back the same")
    func parts() throws {
        let line = try EnrollmentLine(parsing: "abc123@\(Self.fingerprint)")
        #expect(line.secret == "abc123")
        #expect(line.hubKey?.description == Self.fingerprint)
        #expect(line.description == "abc123@\(Self.fingerprint)")
    }

    @Test("a secret alone is a lab hub's line, without a key to pin")
    func secretAlone() throws {
        let line = try EnrollmentLine(parsing: "0123abcd")
        #expect(line.secret == "0123abcd" && line.hubKey == nil)
        #expect(line.description == "0123abcd")
    }

    @Test("malformed lines are refused with bad_key naming the form", arguments: [
        "", "@", "@\(fingerprint)", "a b@\(fingerprint)", "abc@", "abc@sha256:short", "abc@@\(fingerprint)",
        "tiếng@\(fingerprint)", "abc\t@\(fingerprint)", String(repeating: "a", count: 257),
    ])
    func refusals(_ text: String) {
        do {
            _ = try EnrollmentLine(parsing: text)
            Issue.record("'\(text.prefix(40))' was read as a line")
        } catch {
            #expect(error.code == .badKey)
            #expect(!error.message.isEmpty)
        }
    }
}

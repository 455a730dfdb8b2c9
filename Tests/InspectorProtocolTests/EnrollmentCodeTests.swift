import InspectorCore
import InspectorProtocol
import Testing
@testable import InspectorTestSupport

@Suite struct EnrollmentCodeTests {
    static let line = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0@sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ"

    @Test("a code made from its parts reads back into the same parts, surrounding blanks ignored")
    func roundTrip() throws {
        let code = EnrollmentCode(device: "may-tinh-bang.3", address: HubAddress(host: "2001:db8::7", port: 7420),
                                  line: try EnrollmentLine(parsing: Self.line))
        #expect(code.description == "inspector://may-tinh-bang.3@[2001:db8::7]:7420/\(Self.line)")
        #expect(try EnrollmentCode(parsing: "  \(code)\n") == code)
    }

    @Test("a typical code fits a version 9 QR code at level M (180 bytes); the longest device id with a long host name, version 11 (251)")
    func lengthFitsAQRCode() throws {
        let line = try EnrollmentLine(parsing: Self.line)
        let typical = EnrollmentCode(device: "dev-hoa", address: HubAddress(host: "hub.dienbien.example", port: 7420), line: line)
        #expect(typical.description.utf8.count <= 180, "\(typical.description.utf8.count) bytes")
        let longest = EnrollmentCode(device: String(repeating: "d", count: 64), address: HubAddress(host: "hub.sonoivu.dienbien.gov.vn", port: 65535),
                                     line: line)
        #expect(longest.description.utf8.count <= 251, "\(longest.description.utf8.count) bytes")
    }

    @Test("a code that does not follow the form is refused with bad_key", arguments: [
        "", "inspector://", "inspector://dev-a", "inspector://dev-a@hub:7420", "http://dev-a@hub:7420/\(line)",
        "inspector://Dev-A@hub:7420/\(line)", "inspector://dev-a@hub/\(line)", "inspector://dev-a@hub:70000/\(line)",
        "inspector://dev-a@hub:7420/0f1e2d", "inspector://@hub:7420/\(line)", "inspector://dev-a@:7420/\(line)",
    ])
    func refusals(_ text: String) {
        do {
            _ = try EnrollmentCode(parsing: text)
            Issue.record("'\(text.prefix(50))' was read as a code")
        } catch {
            #expect(error.code == .badKey)
        }
    }
}


/// Seeded random texts built from the pieces of lines and codes: the readers never trap, and what
/// they accept prints back into a text they read as the same value.
@Suite struct EnrollmentParsingFuzzTests {
    static let seed: UInt64 = 0x1181_2024_0012

    static let pieces = ["inspector://", "dev-a", "@", "/", ":", "7420", "65536", "[", "]", "::1", "hub.example", "sha256:",
                         "jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ", "0f1e2d", " ", "\n", "é", "\u{0}", "-", "_", "=", "+",
                         "A", "z", "9", "ư", "😀", "%", "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]

    @Test("5,000 texts: no trap; every accepted line and code round-trips")
    func randomTexts() {
        print("[EnrollmentParsingFuzz] seed \(Self.seed)")
        var generator = SplitMix64(seed: Self.seed)
        var accepted = (lines: 0, codes: 0, fingerprints: 0)
        let valid = Array("inspector://dev-a@hub.example:7420/0f1e2d@sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ")
        for index in 0..<5_000 {
            let text: String
            if index % 2 == 0 {
                text = (0..<Int.random(in: 0...9, using: &generator)).map { _ in Self.pieces.randomElement(using: &generator)! }.joined()
            } else {
                // A valid code with one to three edits: a piece inserted, or a character dropped.
                var characters = valid
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let at = Int.random(in: 0...characters.count, using: &generator)
                    if Bool.random(using: &generator) || at == characters.count {
                        characters.insert(contentsOf: Self.pieces.randomElement(using: &generator)!, at: at)
                    } else {
                        characters.remove(at: at)
                    }
                }
                text = String(characters)
            }
            if let line = try? EnrollmentLine(parsing: text) {
                accepted.lines += 1
                #expect((try? EnrollmentLine(parsing: line.description)) == line, "\(text.debugDescription)")
            }
            if let code = try? EnrollmentCode(parsing: text) {
                accepted.codes += 1
                #expect((try? EnrollmentCode(parsing: code.description)) == code, "\(text.debugDescription)")
            }
            if let fingerprint = try? KeyFingerprint(parsing: text) {
                accepted.fingerprints += 1
                #expect(fingerprint.description == text)
            }
        }
        print("[EnrollmentParsingFuzz] accepted \(accepted.lines) lines, \(accepted.codes) codes, \(accepted.fingerprints) fingerprints")
        #expect(accepted.lines > 100 && accepted.codes > 0, "the generator reaches the accepting paths")
    }
}

import InspectorCore
import InspectorProtocol
import Testing

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


import Crypto
import Foundation
import InspectorCore
import InspectorProtocol
import Testing

@Suite struct KeyFingerprintTests {
    @Test("the text is sha256: and the digest in unpadded base64url, and reads back")
    func roundTrip() throws {
        let der = Data((0..<91).map { UInt8($0) })
        let fingerprint = KeyFingerprint(subjectPublicKeyInfo: der)
        #expect(fingerprint.digest == Array(SHA256.hash(data: der)))
        let text = fingerprint.description
        #expect(text.hasPrefix("sha256:") && text.count == 50)
        #expect(!text.contains("+") && !text.contains("/") && !text.contains("="))
        #expect(try KeyFingerprint(parsing: text) == fingerprint)
    }

    @Test("digests whose base64 holds + and / are written with - and _")
    func urlSafeLetters() throws {
        let fingerprint = try KeyFingerprint(parsing: "sha256:" + String(repeating: "-", count: 42) + "w")
        #expect(fingerprint.digest.prefix(3) == [0xFB, 0xEF, 0xBE])
        #expect(fingerprint.description == "sha256:" + String(repeating: "-", count: 42) + "w")
        #expect(try KeyFingerprint(parsing: "sha256:" + String(repeating: "_", count: 42) + "w").digest.first == 0xFF)
    }

    @Test("anything else is refused with bad_key, never trapping", arguments: [
        "", "sha256:", "sha256", "SHA256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ", "sha1:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ",
        "sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hV", "sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQQ",
        "sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hV=", "sha256:jsd8erxVHqQ2+SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ",
        "sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVé", " sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2hVQ",
        "sha256:jsd8erxVHqQ2_SJ8mvTF3_H_OKQVV6M1eEBH3ua2h\u{0}Q",
    ])
    func refusals(_ text: String) {
        do {
            _ = try KeyFingerprint(parsing: text)
            Issue.record("'\(text)' was read as a fingerprint")
        } catch {
            #expect(error.code == .badKey)
        }
    }
}

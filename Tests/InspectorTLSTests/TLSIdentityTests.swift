import Crypto
import InspectorProtocol
import NIOSSL
import Testing
@testable import InspectorTLS

@Suite struct TLSIdentityTests {
    @Test("the PEM of a key reads back as the same key, with the same fingerprint")
    func pemRoundTrip() throws {
        let identity = TLSIdentity.generate()
        let again = try TLSIdentity(privateKeyPEM: identity.privateKeyPEM)
        #expect(again.fingerprint == identity.fingerprint)
        #expect(again.privateKey.rawRepresentation == identity.privateKey.rawRepresentation)
        #expect(TLSIdentity.generate().fingerprint != identity.fingerprint)
    }

    @Test("text that is not a P-256 PEM key is refused with bad_key", arguments: [
        "", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ])
    func refusesNonKeys(_ text: String) {
        #expect(throws: ProtocolError.self) { try TLSIdentity(privateKeyPEM: text) }
        do { _ = try TLSIdentity(privateKeyPEM: text) } catch { #expect(error.code == .badKey) }
    }

    @Test("the certificate made from a key carries that key: its fingerprint is the identity's")
    func certificateCarriesTheKey() throws {
        let identity = TLSIdentity.generate()
        let certificate = try identity.makeCertificate(commonName: "InspectorSync test")
        #expect(try KeyFingerprint(certificate: certificate) == identity.fingerprint)
        // Two certificates of one key (a renewal) have the same fingerprint.
        let renewed = try identity.makeCertificate(commonName: "another name")
        #expect(try KeyFingerprint(certificate: renewed) == identity.fingerprint)
    }

    @Test("the fingerprint is the SHA-256 of the DER SubjectPublicKeyInfo, in base64url (PROTOCOL.md 2.2)")
    func fingerprintDefinition() throws {
        let identity = TLSIdentity.generate()
        let digest = Array(SHA256.hash(data: identity.privateKey.publicKey.derRepresentation))
        #expect(identity.fingerprint.digest == digest)
        #expect(identity.fingerprint.description.hasPrefix("sha256:"))
        #expect(identity.fingerprint.description.count == 7 + 43)
    }
}

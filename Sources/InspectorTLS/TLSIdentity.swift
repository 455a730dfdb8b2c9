import Crypto
import Foundation
import InspectorCore
import InspectorProtocol
import NIOSSL
import SwiftASN1
import X509

/// A hub's or a device's key pair (ECDSA P-256), and the self-signed certificate that presents it in
/// a TLS handshake.
///
/// Trust rests on the key alone (``fingerprint``): the certificate is made afresh from the key
/// whenever a TLS context is made, with a validity from 1970 to 9999, and its dates, names and
/// issuer are never checked by either side. A renewed certificate therefore never breaks a pin, and a
/// device whose clock is years off still connects (PROTOCOL.md 2.1).
public struct TLSIdentity: Sendable {
    /// An immutable key, shared read-only (swift-crypto's key type is not marked `Sendable`).
    private final class Key: @unchecked Sendable {
        let value: P256.Signing.PrivateKey
        init(_ value: P256.Signing.PrivateKey) { self.value = value }
    }
    private let key: Key

    /// The private key. Never printed, never sent.
    public var privateKey: P256.Signing.PrivateKey { key.value }

    /// The key's fingerprint: what a peer pins.
    public let fingerprint: KeyFingerprint

    /// The identity of a key.
    public init(privateKey: P256.Signing.PrivateKey) {
        key = Key(privateKey)
        fingerprint = KeyFingerprint(subjectPublicKeyInfo: privateKey.publicKey.derRepresentation)
    }

    /// A new random key.
    public static func generate() -> TLSIdentity {
        TLSIdentity(privateKey: P256.Signing.PrivateKey())
    }

    /// Reads a PKCS#8 or SEC1 PEM private key.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_key` when the text is not a P-256 private key.
    public init(privateKeyPEM pem: String) throws(ProtocolError) {
        let privateKey: P256.Signing.PrivateKey
        do {
            privateKey = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw ProtocolError(.badKey, "the key is not a PEM P-256 private key")
        }
        self.init(privateKey: privateKey)
    }

    /// The private key as PKCS#8 PEM, for the key's file or table.
    public var privateKeyPEM: String { privateKey.pemRepresentation }


    /// A self-signed certificate for this key, as NIOSSL takes it.
    ///
    /// - Parameter commonName: the subject's name; informative only.
    public func makeCertificate(commonName: String) throws -> NIOSSLCertificate {
        let key = Certificate.PrivateKey(privateKey)
        let name = try DistinguishedName { CommonName(commonName) }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: Date(timeIntervalSince1970: 0),
            notValidAfter: Date(timeIntervalSince1970: 253_402_300_799),  // 9999-12-31T23:59:59Z
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: Certificate.Extensions {},
            issuerPrivateKey: key
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
    }

    /// The private key as NIOSSL takes it.
    func makeNIOSSLPrivateKey() throws -> NIOSSLPrivateKey {
        try NIOSSLPrivateKey(bytes: Array(privateKey.derRepresentation), format: .der)
    }
}

extension KeyFingerprint {
    /// The fingerprint of the key in a peer's certificate.
    ///
    /// - Throws: when the certificate's key cannot be read.
    public init(certificate: NIOSSLCertificate) throws {
        self.init(subjectPublicKeyInfo: try certificate.extractPublicKey().toSPKIBytes())
    }
}

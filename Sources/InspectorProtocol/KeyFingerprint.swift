import Crypto
import Foundation
import InspectorCore

/// The identity of a hub or a device: the SHA-256 of its public key's DER `SubjectPublicKeyInfo`,
/// written `sha256:` followed by the 43 characters of the digest in unpadded base64url
/// (PROTOCOL.md 2.2).
///
/// The key, not the certificate, is what a device pins: a hub may renew or re-issue its certificate
/// (a new validity period, another name) and every device keeps trusting it, as long as the key is
/// the same. This is the pin of RFC 7469 and of OkHttp's certificate pinner, in URL-safe letters so
/// that it fits in an enrollment line and a QR code.
///
/// ```swift
/// let pin = KeyFingerprint(subjectPublicKeyInfo: key.publicKey.derRepresentation)
/// print(pin)   // sha256:Xw8…
/// ```
public struct KeyFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes of the SHA-256 digest.
    public let digest: [UInt8]

    /// The text's prefix, naming the digest.
    public static let prefix = "sha256:"

    /// The fingerprint of a public key given as its DER `SubjectPublicKeyInfo`.
    public init(subjectPublicKeyInfo der: some DataProtocol) {
        digest = Array(SHA256.hash(data: der))
    }

    /// Reads `sha256:` and 43 base64url characters.
    ///
    /// - Throws: ``ProtocolError`` `bad_key` naming what is wrong.
    public init(parsing text: some StringProtocol) throws(ProtocolError) {
        guard text.hasPrefix(Self.prefix) else {
            throw ProtocolError(.badKey, "a key fingerprint starts with '\(Self.prefix)'; got '\(String(text).excerpt(60))'")
        }
        let body = text.dropFirst(Self.prefix.count)
        guard body.utf8.count == 43, let bytes = Base64URL.decode(body), bytes.count == 32 else {
            throw ProtocolError(.badKey, "a key fingerprint is '\(Self.prefix)' and 43 base64url characters; got '\(String(text).excerpt(60))'")
        }
        digest = Array(bytes)
    }

    /// `sha256:` and the digest in unpadded base64url.
    public var description: String {
        Self.prefix + Base64URL.encode(digest)
    }
}

import InspectorCore

/// What `hub device add` prints on its last line, and what `inspector init --token` takes: the
/// device's enrollment secret and the fingerprint of the hub's key, `SECRET@sha256:…`
/// (PROTOCOL.md 9.8).
///
/// The secret authenticates the device once, at its first handshake, and binds the device's key to
/// its id; it is single-use and expires. The fingerprint is the hub key the device pins: the device
/// refuses any other hub before it sends the secret. A line without `@` carries a secret only, for a
/// lab hub on plain TCP.
public struct EnrollmentLine: Hashable, Sendable, CustomStringConvertible {
    /// The enrollment secret: 64 lowercase hexadecimal characters from a hub (any printable ASCII
    /// without spaces or `@` is read, so that a lab hub's token can be typed).
    public var secret: String
    /// The hub's key, pinned at enrollment; nil for a plain-TCP lab hub.
    public var hubKey: KeyFingerprint?

    public init(secret: String, hubKey: KeyFingerprint?) {
        self.secret = secret
        self.hubKey = hubKey
    }

    /// Reads `SECRET@sha256:…` or `SECRET`.
    ///
    /// - Throws: ``ProtocolError`` `bad_key` naming what is wrong.
    public init(parsing text: some StringProtocol) throws(ProtocolError) {
        let text = String(text)
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let secret = parts[0]
        guard !secret.isEmpty, secret.utf8.count <= 256, secret.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "@") }) else {
            throw ProtocolError(.badKey, "an enrollment line is SECRET@sha256:FINGERPRINT, the secret in printable ASCII without spaces; got '\(text.excerpt(40))'")
        }
        self.secret = String(secret)
        hubKey = parts.count == 2 ? try KeyFingerprint(parsing: parts[1]) : nil
    }

    /// `SECRET@sha256:…`, or the secret alone without a hub key.
    public var description: String {
        hubKey.map { "\(secret)@\($0)" } ?? secret
    }
}

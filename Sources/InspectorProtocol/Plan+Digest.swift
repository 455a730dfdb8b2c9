import Crypto
import InspectorCore

extension Plan {
    /// The SHA-256 of the plan's canonical JSON, hex. Hub and device compare digests at the handshake.
    public var digest: String {
        SHA256.hash(data: encoded()).map { String(format: "%02x", $0) }.joined()
    }
}

import Foundation
import InspectorCore

/// Everything a device needs to join a hub, in one line short enough for a QR code:
/// `inspector://DEVICE@HOST:PORT/SECRET@sha256:FINGERPRINT` (PROTOCOL.md 9.8).
///
/// `hub device add --address HOST:PORT` prints it (and `--qr` draws it); `inspector init --enroll CODE`
/// reads it. It holds the enrollment secret: whoever reads it first can enroll as the device, so it is
/// shown once, used once, and expires.
public struct EnrollmentCode: Hashable, Sendable, CustomStringConvertible {
    /// The device id the hub enrolled.
    public var device: String
    /// Where the hub listens.
    public var address: HubAddress
    /// The secret and the hub's key.
    public var line: EnrollmentLine

    /// The code's scheme.
    public static let scheme = "inspector://"

    public init(device: String, address: HubAddress, line: EnrollmentLine) {
        self.device = device
        self.address = address
        self.line = line
    }

    /// Reads a code.
    ///
    /// - Throws: ``ProtocolError`` `bad_key` naming what is wrong (a bad address is `bad_key` too:
    ///   the code as a whole cannot be read).
    public init(parsing text: some StringProtocol) throws(ProtocolError) {
        let text = String(text).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(Self.scheme) else {
            throw ProtocolError(.badKey, "an enrollment code starts with '\(Self.scheme)'; got '\(text.excerpt(40))'")
        }
        let rest = text.dropFirst(Self.scheme.count)
        guard let at = rest.firstIndex(of: "@"), let slash = rest[at...].firstIndex(of: "/") else {
            throw ProtocolError(.badKey, "an enrollment code is \(Self.scheme)DEVICE@HOST:PORT/SECRET@FINGERPRINT; got '\(text.excerpt(40))'")
        }
        let device = String(rest[..<at])
        do {
            try Identifier.validateDevice(device)
        } catch {
            throw ProtocolError(.badKey, "the enrollment code's device id is not valid: \(error.message)")
        }
        let address: HubAddress
        do {
            address = try HubAddress(parsing: String(rest[rest.index(after: at)..<slash]))
        } catch {
            throw ProtocolError(.badKey, "the enrollment code's address is not valid: \(error.message)")
        }
        let line = try EnrollmentLine(parsing: rest[rest.index(after: slash)...])
        guard line.hubKey != nil else {
            throw ProtocolError(.badKey, "the enrollment code carries no hub key fingerprint")
        }
        self.init(device: device, address: address, line: line)
    }

    public var description: String { "\(Self.scheme)\(device)@\(address)/\(line)" }
}

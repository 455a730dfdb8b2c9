import InspectorCore
import InspectorProtocol
import InspectorStore

/// The hub's standing, for `hub status`: devices, last sync, operations held, clock offsets.
public struct HubStatus: Sendable {
    public var devices: [HubStore.Device]
    public var operationCount: Int
    public var heldByDevice: [String: Int64]
    /// Pulled ops each device reported it cannot store and holds back.
    public var heldBack: [String: HubStore.HeldBackSummary]
    /// The fingerprint of the hub's key, which devices pin.
    public var hubKey: KeyFingerprint

    /// The hub's clock when the status was read, ms.
    public var now: Int64

    public init(store: HubStore) throws {
        hubKey = store.identity.fingerprint
        now = store.now()
        devices = try store.devices()
        operationCount = try store.replica.operationCount()
        var held: [String: Int64] = [:]
        for device in devices { held[device.id] = try store.replica.lastSequence(of: device.id) }
        heldByDevice = held
        heldBack = try store.heldBackReports()
    }

    public var text: String {
        var lines = ["hub key: \(hubKey)", "operations held: \(operationCount)", "devices: \(devices.count)"]
        for device in devices {
            let offset = device.clockOffset.map { offset in
                let text = Self.describe(offset)
                return abs(offset) > 5 * 60 * 1000 ? "\(text)  WARNING: beyond 5 minutes" : text
            } ?? "not measured"
            lines.append("""
                - \(device.id)\(device.name.map { " (\($0))" } ?? "")\(device.isRevoked ? " REVOKED" : "")
                    units: \(device.units.joined(separator: ", "))
                    confirmed up to #\(device.confirmed); highest held #\(heldByDevice[device.id] ?? 0)
                    key: \(device.key.map { "\($0), enrolled \(device.enrolledAt.map(ISOTime.format(millis:)) ?? "")" } ?? device.enrollmentExpires.map { "not enrolled yet; its code \($0 < now ? "expired" : "expires") \(ISOTime.format(millis: $0))" } ?? "not enrolled yet")
                    signed log: \(Self.describe(device.chain, confirmed: device.confirmed))
                    last sync: \(device.lastSync.map(ISOTime.format(millis:)) ?? "never")
                    clock offset (device − hub): \(offset)
                """)
            if let report = heldBack[device.id] {
                lines.append("    holds back \(report.count) pulled operation(s) it cannot store (reported \(ISOTime.format(millis: report.reportedAt))):")
                for entry in report.entries.prefix(10) {
                    lines.append("      \(entry.device)#\(entry.sequence) (\(entry.code)): \(entry.message)")
                }
                if report.count > 10 { lines.append("      … and \(report.count - 10) more") }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// How far the hub verified the device's log against its signed chain heads (PROTOCOL.md 19).
    static func describe(_ chain: HubStore.ChainStatus?, confirmed: Int64) -> String {
        guard let chain else { return confirmed == 0 ? "nothing held yet" : "not verified: no signed head received yet" }
        let run = "verified #\(chain.from)–#\(chain.through)"
        if chain.from > 1 { return "\(run); #1–#\(chain.from - 1) were received before signing and are not verified" }
        return chain.through >= confirmed ? "\(run): every op held verified" : "\(run); ops after #\(chain.through) are not verified"
    }

    /// A clock offset for people: seconds, hours or days, with its sign.
    public static func describe(_ offset: Int64) -> String {
        let seconds = Double(offset) / 1000
        if abs(seconds) >= 86_400 { return String(format: "%+.2f days", seconds / 86_400) }
        if abs(seconds) >= 3600 { return String(format: "%+.2f h", seconds / 3600) }
        return String(format: "%+.3f s", seconds)
    }
}

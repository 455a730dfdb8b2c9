import ArgumentParser
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS

/// The hub a replica syncs with, as `init` and `link` take it: `--hub --token`, or `--enroll`.
struct HubLinkOptions {
    var device: String?
    var address: HubAddress
    var line: EnrollmentLine

    /// Reads the options; nil when none is given.
    ///
    /// - Throws: `ValidationError` for options that do not go together; `ProtocolError` `bad_key` for
    ///   an enrollment line or code that cannot be read.
    init?(hub: String?, token: String?, enroll: String?, device: String?) throws {
        if let enroll {
            guard hub == nil, token == nil else { throw ValidationError("--enroll carries the hub and the line: leave out --hub and --token") }
            let code = try EnrollmentCode(parsing: enroll)
            if let device, device != code.device {
                throw ValidationError("the enrollment code is for device '\(code.device)', not '\(device)'")
            }
            self.device = code.device
            address = code.address
            line = code.line
            return
        }
        guard hub != nil || token != nil else { return nil }
        guard let hub, let token else { throw ValidationError("--hub and --token go together") }
        self.device = device
        address = try HubAddress(parsing: hub)
        line = try EnrollmentLine(parsing: token)
    }

    /// Saves the link in the replica and makes the device's key beside it (kept if it exists).
    func save(in store: ReplicaStore) throws {
        try store.connect(toHubAt: address.description, token: line.description)
        let key = try TLSIdentity.loadOrCreate(keyFile: SyncClient.keyFile(of: store))
        if let pin = line.hubKey {
            print("pinned the hub's key \(pin); this device's key is \(key.fingerprint) (in \(SyncClient.keyFile(of: store)), readable by its owner only)")
        } else {
            print("WARNING: the enrollment line carries no hub key: this device can sync only with --insecure-plaintext, in clear")
        }
    }
}

extension ReplicaStore {
    /// What a replica is: a device's, or the hub's. It decides how a merge treats a retraction of a
    /// finding not yet held (a device waits for it, the hub refuses a foreign one) and whether a
    /// merge counts new conflicts (a device does, for its user).
    public enum Role: String, Sendable, Hashable, CaseIterable {
        /// A device's replica: its inspector's edits and what the hub sends it.
        case device
        /// The hub's replica: every device's operations and the supervisors' decisions.
        case hub
    }
}

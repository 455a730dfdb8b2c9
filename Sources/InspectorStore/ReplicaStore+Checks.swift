import InspectorCore

extension ReplicaStore {
    /// Throws an error listing the known units unless `unit` is one of them.
    public func checkKnownUnit(_ unit: String) throws {
        let known = units
        guard known.contains(where: { $0.id == unit }) else {
            throw CoreError(.unknownUnit, "unknown unit '\(unit.excerpt(70))'; units are: \(known.map(\.id).joined(separator: ", "))")
        }
    }
}

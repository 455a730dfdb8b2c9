extension Op {
    /// The `set` ops among `ops` that a later `set` op of the same author on the same field supersedes
    /// (a greater `(t, c)`): those a compact pull leaves out (PROTOCOL.md 11.6). The merged state and
    /// the conflict ledger of `ops` equal those of `ops` without them.
    public static func superseded(among ops: some Sequence<Op>) -> Set<Op> {
        var latest: [FieldAuthor: Op] = [:]
        var sets: [Op] = []
        for op in ops where op.kind == .set {
            guard let item = op.item, let field = op.field else { continue }
            sets.append(op)
            let key = FieldAuthor(device: op.device, unit: op.unit, item: item, field: field)
            if let held = latest[key], (held.timestamp.millis, held.timestamp.counter) >= (op.timestamp.millis, op.timestamp.counter) { continue }
            latest[key] = op
        }
        return Set(sets.filter { op in
            let key = FieldAuthor(device: op.device, unit: op.unit, item: op.item!, field: op.field!)
            guard let top = latest[key] else { return false }
            return (top.timestamp.millis, top.timestamp.counter) > (op.timestamp.millis, op.timestamp.counter)
        })
    }
}

/// A field of a unit's checklist item, and one author of values for it.
private struct FieldAuthor: Hashable {
    var device, unit, item, field: String
}

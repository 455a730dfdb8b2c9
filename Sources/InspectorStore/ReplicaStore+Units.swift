import Foundation
import GRDB
import InspectorCore

extension ReplicaStore {
    /// Adds or updates units (sub-units and self-inspecting bodies are added this way, with a parent).
    ///
    /// - Throws: ``InspectorCore/CoreError`` for an invalid id, ``StoreError`` for a parent that is not a unit.
    public func upsertUnits(_ units: [Plan.Unit]) throws {
        for unit in units {
            guard Identifier.isValid(unit.id) else {
                throw CoreError(.unknownUnit, "unit id '\(unit.id.excerpt(70))' is not valid: use a-z, 0-9, '-', '_', '.'")
            }
            guard !Text.nfc(unit.name).trimmingCharacters(in: .whitespaces).isEmpty else {
                throw CoreError(.invalidText, "unit '\(unit.id)' needs a name")
            }
        }
        let planUnits = Set(plan.units.map(\.id))
        let updated = try Self.wrap {
            try writer.write { db -> [Plan.Unit] in
                for unit in units {
                    var normalized = unit
                    normalized.name = Text.nfc(unit.name)
                    if let parent = unit.parent {
                        let exists = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM units WHERE id = ?)", arguments: [parent]) ?? false
                        guard exists || units.contains(where: { $0.id == parent }) else {
                            throw StoreError(.notFound, "parent unit '\(parent.excerpt(70))' does not exist")
                        }
                    }
                    try Self.replaceUnits(db, [(normalized, planUnits.contains(unit.id))])
                }
                return try Self.loadUnits(db)
            }
        }
        context.state.withLock {
            $0.units = updated
            $0.unitIDs = Set(updated.map(\.id))
        }
    }

    /// The units in `roots` and every unit below them.
    public func unitsWithDescendants(of roots: Set<String>) -> Set<String> {
        let all = units
        var result = roots.intersection(Set(all.map(\.id)))
        var changed = true
        while changed {
            changed = false
            for unit in all where !result.contains(unit.id) {
                if let parent = unit.parent, result.contains(parent) {
                    result.insert(unit.id)
                    changed = true
                }
            }
        }
        return result
    }

    /// Replaces the plan (as the hub sends it), keeping added units.
    public func replacePlan(_ plan: Plan) throws {
        let updated = try Self.wrap {
            try writer.write { db -> [Plan.Unit] in
                try Self.setMeta(db, .plan, String(decoding: plan.encoded(), as: UTF8.self))
                try Self.replaceUnits(db, plan.units.map { ($0, true) })
                return try Self.loadUnits(db)
            }
        }
        context.state.withLock {
            $0.plan = plan
            $0.units = updated
            $0.unitIDs = Set(updated.map(\.id))
        }
    }
}

extension ReplicaStore {
    /// Re-reads the units from the file, for when another process has added some.
    public func reloadUnits() async throws {
        let units = try await read { db in try Self.loadUnits(db) }
        context.state.withLock {
            $0.units = units
            $0.unitIDs = Set(units.map(\.id))
        }
    }
}

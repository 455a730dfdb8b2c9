import Foundation
import InspectorCore
import InspectorStore
import Testing

/// The units of a replica (`ReplicaStore+Units.swift`): in the plan's order, then added ones by id.
@Suite struct ReplicaStoreUnitsTests {
    /// A new plan with its units in another order reorders the units, in the store that replaced it
    /// and, after `reloadUnits()`, in another handle on the same file (as in another process). The
    /// order is kept per plan JSON, so a stale one would show here.
    @Test func unitsFollowTheOrderOfTheLatestPlan() async throws {
        try await withTemporaryDirectory { dir in
            let store = try makeStore(in: dir, device: "dev-a", clock: ManualClock())
            let other = try ReplicaStore.open(at: store.path)
            #expect(store.units.map(\.id) == builtInPlan.units.map(\.id))
            #expect(other.units.map(\.id) == builtInPlan.units.map(\.id))
            var reordered = builtInPlan
            reordered.units.reverse()
            try store.replacePlan(reordered)
            #expect(store.units.map(\.id) == reordered.units.map(\.id))
            #expect(other.units.map(\.id) == builtInPlan.units.map(\.id))
            try await other.reloadUnits()
            #expect(other.units.map(\.id) == reordered.units.map(\.id))
            // And back: the first plan's JSON again gives its order again.
            try store.replacePlan(builtInPlan)
            try await other.reloadUnits()
            #expect(other.units.map(\.id) == builtInPlan.units.map(\.id))
        }
    }
}

import Foundation
import Hummingbird
import InspectorCore
import InspectorHub

extension Dashboard {
    /// The forms that change the hub: a supervisor's resolution of a conflict (the same hub op as
    /// `hub resolve`) and the schedule of a unit's visit (as `hub unit schedule`), both recorded
    /// under the account's name in the audit list. The middleware has checked the session and its token.
    func addDecisionRoutes(to router: Router<DashboardContext>) {
        router.post("/conflicts/resolve") { _, context in
            let session = try context.requireSupervisor()
            let form = context.form
            guard let unit = form["unit"], let item = form["item"], let field = form["field"] else {
                throw DashboardError(.invalidArgument, "the form names no unit, item and field")
            }
            let other = form["other"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard let value = other.isEmpty ? form["value"] : other, !value.isEmpty else {
                throw DashboardError(.invalidValue, "choose one of the values, or type another")
            }
            try await self.store.resolve(unit: unit, item: item, field: field, value: value, by: session.user.name)
            return Response.redirect(to: OfficeSessionMiddleware.safeNext(form["back"] ?? "/conflicts"), type: .normal)
        }
        router.post("/units/{unit}/schedule") { _, context in
            let session = try context.requireSupervisor()
            let unit = context.parameters.get("unit") ?? ""
            let arrival = try CalendarDate(iso: context.form["arrival"] ?? "")
            try await self.store.schedule(unit: unit, arrival: arrival, by: session.user.name)
            return Response.redirect(to: "/units/\(OfficeSessionMiddleware.percentEncoded(unit))", type: .normal)
        }
    }
}

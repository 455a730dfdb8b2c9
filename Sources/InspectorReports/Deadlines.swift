import InspectorCore

/// The deadlines the plan sets for one unit, computed from the day the team arrives.
///
/// The inspected body is notified at least ``InspectorCore/Plan/Dates/noticeWorkingDays`` working
/// days before the team arrives (working days skip Saturdays, Sundays and the plan's public
/// holidays, but count the plan's make-up working days), and sends its report at least ``InspectorCore/Plan/Dates/reportDaysBefore`` days before
/// (calendar days: the plan says "05 ngày"). A self-inspecting unit's report is due on the plan's
/// ``InspectorCore/Plan/Dates/selfInspectionReportDue``.
///
/// ```swift
/// let d = Deadlines(plan: plan, kind: .direct, arrival: CalendarDate(year: 2024, month: 6, day: 20)!)
/// d.noticeBy?.vietnameseString   // "30/05/2024"
/// d.reportDue?.vietnameseString  // "15/06/2024"
/// ```
public struct Deadlines: Hashable, Sendable {
    /// The day the team arrives, if scheduled.
    public var arrival: CalendarDate?
    /// The latest day to notify the unit.
    public var noticeBy: CalendarDate?
    /// The day the unit's report is due.
    public var reportDue: CalendarDate?

    public init(plan: Plan, kind: Plan.Unit.Kind, arrival: CalendarDate?) {
        self.arrival = arrival
        switch kind {
        case .self:
            noticeBy = nil
            reportDue = try? CalendarDate(iso: plan.dates.selfInspectionReportDue)
        case .direct:
            guard let arrival else { noticeBy = nil; reportDue = nil; return }
            noticeBy = Self.workingDays(plan.dates.noticeWorkingDays, before: arrival, plan: plan)
            reportDue = arrival.adding(days: -plan.dates.reportDaysBefore)
        }
    }

    /// The day `count` working days before `date`, by the plan's holidays and make-up working days.
    public static func workingDays(_ count: Int, before date: CalendarDate, plan: Plan) -> CalendarDate {
        var day = date
        var counted = 0
        while counted < count {
            day = day.adding(days: -1)
            if plan.isWorkingDay(day) { counted += 1 }
        }
        return day
    }

    /// The deadlines that fell before `today` (exclusive).
    public func passed(asOf today: CalendarDate) -> [String] {
        var result: [String] = []
        if let noticeBy, noticeBy < today, arrival.map({ $0 >= today }) ?? true { result.append("hạn thông báo \(noticeBy.vietnameseString)") }
        if let reportDue, reportDue < today, arrival.map({ $0 >= today }) ?? true { result.append("hạn nộp báo cáo \(reportDue.vietnameseString)") }
        return result
    }
}

import InspectorCore
import InspectorPlans
import Testing
@testable import InspectorReports

@Suite struct DeadlinesTests {
    let plan = try! BuiltInPlans.current()

    @Test func inspectionOnTwentiethOfJune2024() {
        let deadlines = Deadlines(plan: plan, kind: .direct, arrival: CalendarDate(year: 2024, month: 6, day: 20)!)
        #expect(deadlines.noticeBy?.vietnameseString == "30/05/2024")
        #expect(deadlines.reportDue?.vietnameseString == "15/06/2024")
    }

    @Test func workingDaysSkipHolidaysAndCountMakeUpDays() {
        // 15 working days before Monday 06/05/2024: Saturday 04/05 was a make-up working day; 01/05,
        // 30/04, 29/04 and 18/04 (Giỗ Tổ) were holidays.
        let date = Deadlines.workingDays(15, before: CalendarDate(year: 2024, month: 5, day: 6)!, plan: plan)
        #expect(date == CalendarDate(year: 2024, month: 4, day: 10)!)
        var plain = plan
        plain.holidays = []
        plain.makeUpWorkingDays = nil
        let ignoringCalendar = Deadlines.workingDays(15, before: CalendarDate(year: 2024, month: 5, day: 6)!, plan: plain)
        #expect(ignoringCalendar == CalendarDate(year: 2024, month: 4, day: 15)!)
    }

    @Test func selfInspectingUnitsFollowThePlanDate() {
        let deadlines = Deadlines(plan: plan, kind: .self, arrival: nil)
        #expect(deadlines.reportDue?.isoString == "2024-11-10")
        #expect(deadlines.noticeBy == nil)
    }

    @Test func passedDeadlinesAreFlagged() {
        let deadlines = Deadlines(plan: plan, kind: .direct, arrival: CalendarDate(year: 2024, month: 6, day: 20)!)
        #expect(deadlines.passed(asOf: CalendarDate(year: 2024, month: 5, day: 30)!).isEmpty)
        #expect(deadlines.passed(asOf: CalendarDate(year: 2024, month: 6, day: 1)!) == ["hạn thông báo 30/05/2024"])
        #expect(deadlines.passed(asOf: CalendarDate(year: 2024, month: 6, day: 16)!).count == 2)
    }
}

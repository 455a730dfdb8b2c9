import InspectorCore
import PropertyBased
import Testing

@Suite struct CalendarDateTests {
    @Test(arguments: ["2024-06-20", "2024-02-29", "2000-02-29", "1970-01-01", "0001-01-01", "9999-12-31", "2023-12-31"])
    func parsesValidISODates(text: String) throws {
        let date = try CalendarDate(iso: text)
        #expect(date.isoString == text)
        #expect(date.description == text)
    }

    @Test func parsesTheParts() throws {
        let date = try CalendarDate(iso: "2024-06-20")
        #expect(date.year == 2024 && date.month == 6 && date.day == 20)
    }

    @Test(arguments: [
        "", "2024-6-20", "2024-06-2", "24-06-20", "20240620", "2024/06/20", "20/06/2024", " 2024-06-20",
        "2024-06-20 ", "2024-06-20\n", "2024-06-2a", "+024-06-20", "-2024-06-20", "2024--06-20", "2024-06-20-01",
        "2024-+6-20", "２０２４-06-20", "2024-٠٦-20", "2024-06-20T00:00:00Z",
    ])
    func refusesMalformedText(text: String) {
        let error = coreError { _ = try CalendarDate(iso: text) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("YYYY-MM-DD") == true)
    }

    @Test(arguments: ["2023-02-29", "1900-02-29", "2100-02-29", "2024-02-30", "2024-04-31", "2024-06-31",
                      "2024-09-31", "2024-11-31", "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32", "0000-01-01"])
    func refusesDaysThatDoNotExist(text: String) {
        #expect(coreError { _ = try CalendarDate(iso: text) }?.code == .invalidValue)
    }

    @Test func memberwiseInitRefusesImpossibleDays() {
        #expect(CalendarDate(year: 2023, month: 2, day: 29) == nil)
        #expect(CalendarDate(year: 2024, month: 2, day: 29) != nil)
        #expect(CalendarDate(year: 2024, month: 4, day: 31) == nil)
        #expect(CalendarDate(year: 2024, month: 0, day: 1) == nil)
        #expect(CalendarDate(year: 10_000, month: 1, day: 1) == nil)
    }

    @Test(arguments: [
        ("2024-06-20", 4), ("1970-01-01", 4), ("1969-12-31", 3), ("2000-01-01", 6), ("2024-05-04", 6),
        ("2024-11-10", 7), ("2024-11-08", 5), ("0001-01-01", 1), ("9999-12-31", 5),
    ])
    func weekdayOfKnownDates(text: String, weekday: Int) throws {
        let date = try CalendarDate(iso: text)
        #expect(date.isoWeekday == weekday)
        #expect(date.isWeekend == (weekday >= 6))
    }

    @Test func addingDays() throws {
        let day = try CalendarDate(iso: "2024-06-20")
        #expect(day.adding(days: -5).isoString == "2024-06-15")
        #expect(day.adding(days: 0) == day)
        #expect(day.adding(days: 11).isoString == "2024-07-01")
        #expect(try CalendarDate(iso: "2024-02-28").adding(days: 1).isoString == "2024-02-29")
        #expect(try CalendarDate(iso: "2024-02-28").adding(days: 2).isoString == "2024-03-01")
        #expect(try CalendarDate(iso: "2023-02-28").adding(days: 1).isoString == "2023-03-01")
        #expect(try CalendarDate(iso: "2023-12-31").adding(days: 1).isoString == "2024-01-01")
        #expect(try CalendarDate(iso: "2024-01-01").adding(days: 366).isoString == "2025-01-01")
        #expect(try CalendarDate(iso: "1970-01-01").adding(days: -1).isoString == "1969-12-31")
    }

    @Test func daysSinceEpoch() throws {
        #expect(try CalendarDate(iso: "1970-01-01").daysSinceEpoch == 0)
        #expect(try CalendarDate(iso: "2024-06-20").daysSinceEpoch == 19_894)
        #expect(try CalendarDate(iso: "0001-01-01").daysSinceEpoch == -719_162)
        #expect(try CalendarDate(iso: "9999-12-31").daysSinceEpoch == 2_932_896)
        #expect(CalendarDate(daysSinceEpoch: 19_894).isoString == "2024-06-20")
    }

    @Test func vietnameseString() throws {
        #expect(try CalendarDate(iso: "2024-06-20").vietnameseString == "20/06/2024")
        #expect(try CalendarDate(iso: "2024-11-01").vietnameseString == "01/11/2024")
        #expect(try CalendarDate(iso: "0999-01-09").vietnameseString == "09/01/0999")
    }

    @Test func ordering() throws {
        #expect(try CalendarDate(iso: "2024-06-20") < CalendarDate(iso: "2024-06-21"))
        #expect(try CalendarDate(iso: "2023-12-31") < CalendarDate(iso: "2024-01-01"))
        #expect(try CalendarDate(iso: "2024-01-31") < CalendarDate(iso: "2024-02-01"))
        #expect(try !(CalendarDate(iso: "2024-06-20") < CalendarDate(iso: "2024-06-20")))
    }

    /// The day arithmetic agrees with itself over the whole supported range.
    @Test func dayArithmeticRoundTrips() async {
        await propertyCheck(count: 500, input: Gen.int64(in: -719_162...2_932_896), Gen.int(in: -1_000...1_000)) { days, delta throws in
            let date = CalendarDate(daysSinceEpoch: days)
            #expect(date.daysSinceEpoch == days)
            #expect(CalendarDate(year: date.year, month: date.month, day: date.day) == date)
            #expect(try CalendarDate(iso: date.isoString) == date)
            let moved = date.adding(days: delta)
            #expect(moved.daysSinceEpoch == days + Int64(delta))
            #expect((moved < date) == (delta < 0))
            let expectedWeekday = ((date.isoWeekday - 1 + delta) % 7 + 7) % 7 + 1
            #expect(moved.isoWeekday == expectedWeekday)
        }
    }
}

import Foundation

/// A calendar day (proleptic Gregorian), as the plan and the `date` field type use it.
///
/// ```swift
/// let day = try CalendarDate(iso: "2024-06-20")
/// day.vietnameseString   // "20/06/2024"
/// day.adding(days: -5)   // 2024-06-15
/// ```
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    /// Creates a date from its parts; fails when the day does not exist.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
              (1...CalendarDate.daysIn(month: month, year: year)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` strictly: four, two and two digits, and a day that exists.
    public init(iso text: String) throws(CoreError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              let date = CalendarDate(year: y, month: m, day: d)
        else { throw CoreError(.invalidValue, "'\(text.excerpt(40))' is not a date in the form YYYY-MM-DD") }
        self = date
    }

    /// Days since 1970-01-01 (negative before).
    public init(daysSinceEpoch: Int64) {
        // Howard Hinnant's civil_from_days.
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.year = Int(y)
        self.month = Int(m)
        self.day = Int(d)
    }

    /// Today in a time zone `utcOffsetHours` east of UTC (Vietnam: 7), by the system clock.
    public static func today(utcOffsetHours: Int, nowMillis: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> CalendarDate {
        let (days, _) = ISOTime.floorDivMod(nowMillis + Int64(utcOffsetHours) * 3_600_000, 86_400_000)
        return CalendarDate(daysSinceEpoch: days)
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The day of the week, 1 = Monday … 7 = Sunday (ISO 8601).
    public var isoWeekday: Int {
        let (_, r) = ISOTime.floorDivMod(daysSinceEpoch + 3, 7)  // 1970-01-01 was a Thursday
        return Int(r) + 1
    }

    /// Whether the day is a Saturday or a Sunday.
    public var isWeekend: Bool { isoWeekday >= 6 }

    /// The date `days` days later (earlier when negative).
    public func adding(days: Int) -> CalendarDate {
        CalendarDate(daysSinceEpoch: daysSinceEpoch + Int64(days))
    }

    /// `YYYY-MM-DD`.
    public var isoString: String {
        "\(ISOTime.pad(Int64(year), 4))-\(ISOTime.pad(Int64(month), 2))-\(ISOTime.pad(Int64(day), 2))"
    }

    /// `dd/mm/yyyy`, the Vietnamese style.
    public var vietnameseString: String {
        "\(ISOTime.pad(Int64(day), 2))/\(ISOTime.pad(Int64(month), 2))/\(ISOTime.pad(Int64(year), 4))"
    }

    public var description: String { isoString }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

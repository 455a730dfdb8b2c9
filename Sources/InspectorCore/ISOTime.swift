/// Formatting and parsing of times and calendar dates without Foundation's locale-dependent formatters.
///
/// Every output of InspectorSync must be byte-identical on every machine, so dates are computed with
/// the proleptic Gregorian calendar in UTC, by arithmetic.
public enum ISOTime {
    /// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func format(millis: Int64) -> String {
        let (days, msOfDay) = floorDivMod(millis, 86_400_000)
        let date = CalendarDate(daysSinceEpoch: days)
        let hours = msOfDay / 3_600_000
        let minutes = (msOfDay / 60_000) % 60
        let seconds = (msOfDay / 1000) % 60
        let ms = msOfDay % 1000
        return "\(date.isoString)T\(pad(hours, 2)):\(pad(minutes, 2)):\(pad(seconds, 2)).\(pad(ms, 3))Z"
    }

    static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b
        var r = a % b
        if r < 0 { q -= 1; r += b }
        return (q, r)
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

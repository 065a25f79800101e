internal import NIOCore

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The `Date` header of the proxy's own answers (RFC 9110 §6.6.1), as an IMF-fixdate, formatted at most once per
/// second, whole line and all. One per event loop: event loop only, like the connections that read it.
final class HTTPDate {
    private var second = Int.min
    private var line = ByteBuffer()

    init() {}

    /// Writes `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` for now: one copy of bytes made once a second.
    func writeLine(into buffer: inout ByteBuffer) {
        let second = Int(time(nil))
        if second != self.second {
            self.second = second
            self.line.clear()
            self.line.writeHeader("Date", Self.format(secondsSince1970: second))
        }
        buffer.writeImmutableBuffer(self.line)
    }

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats a Unix time as an IMF-fixdate, with the proleptic Gregorian calendar (Howard Hinnant's
    /// `civil_from_days`).
    static func format(secondsSince1970 seconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = self.weekdays[((days % 7) + 7) % 7]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(weekday), \(two(day)) \(self.months[month - 1]) \(year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60)) GMT"
    }
}

@available(*, unavailable)
extension HTTPDate: Sendable {}

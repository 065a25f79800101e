/// `log.format: "text"`, for a person at a terminal: one short aligned line per exchange — local time, method,
/// target, status, duration, the origin's verdict and origin — and, only when the browser will block the answer,
/// an indented line with the rule it breaks and the fix.
///
///     15:04:05.123 GET     /rest/v1.0/projects?company_id=8      200    12 ms allowed   http://localhost:3000
///     15:04:05.200 OPTIONS /rest/v1.0/projects/1002              204     0 ms allowed   http://localhost:3000
///                  ↳ blocked: the request sets 'x-custom', which is not in Access-Control-Allow-Headers …
///                    fix: … proxy.json: add "X-Custom" to cors.allowedHeaders
extension AccessLog {
    /// The column a target is padded to; a longer one is shown whole and pushes the rest of its line along.
    static let targetWidth = 40
    /// Where the reason and fix lines start: under the method.
    private static let indent = 13

    static func text(_ record: ExchangeRecord, time: WallClock, colour: Bool) -> LogLine {
        let paint = Paint(enabled: colour)
        var line = LogLine()
        time.appendClockTime(to: &line)
        line.append(" ")
        line.append(record.method, paddedTo: 7)
        line.append(" ")
        line.append(record.target, paddedTo: Self.targetWidth)
        line.append(" ")
        paint.status(record.status, into: &line)
        line.append(" ")
        line.append(decimal: Int(record.duration / .milliseconds(1)), width: 5, fill: UInt8(ascii: " "))
        line.append(" ms ")
        let cors = record.cors
        switch cors.verdict {
        case .absent:
            paint.write("no-origin", .dim, into: &line)
        case .allowed(let origin, _):
            paint.write("allowed", .green, paddedTo: 9, into: &line)
            line.append(" ")
            line.append(origin)
        case .refused(let origin, _):
            paint.write("refused", .red, paddedTo: 9, into: &line)
            line.append(" ")
            line.append(origin)
        }
        if let fault = cors.fault {
            line.append(" ")
            paint.write("fault=" + fault.description, .yellow, into: &line)
        }
        if let reason = cors.wouldBlock {
            line.append(" ")
            paint.write("would-block=" + reason.rawValue, .yellow, into: &line)
        }
        if let code = record.errorCode {
            line.append(" error=")
            line.append(code)
        }
        if let limit = record.limit {
            line.append(" ")
            paint.write("limit=\(limit.kind.rawValue) retry-after=\(limit.retryAfter)s", .yellow, into: &line)
        }
        if let note = record.note {
            line.append(" (")
            line.append(note)
            line.append(")")
        }
        line.append("\n")
        if let block = Block(record) {
            line.append(UInt8(ascii: " "), count: Self.indent)
            paint.write("↳ blocked: ", .red, into: &line)
            line.append(block.rule)
            line.append("\n")
            if let fix = block.fix {
                line.append(UInt8(ascii: " "), count: Self.indent)
                line.append("  fix: ")
                line.append(fix)
                line.append("\n")
            }
        }
        return line
    }

    /// ANSI colours, or none.
    struct Paint {
        enum Colour {
            case green, yellow, red, dim

            var escape: StaticString {
                switch self {
                case .green: "\u{1B}[32m"
                case .yellow: "\u{1B}[33m"
                case .red: "\u{1B}[31m"
                case .dim: "\u{1B}[2m"
                }
            }
        }

        let enabled: Bool

        func status(_ status: Int, into line: inout LogLine) {
            let colour: Colour =
                switch status {
                case 200..<400: .green
                case 400..<500: .yellow
                default: .red
                }
            if self.enabled { line.append(colour.escape) }
            line.append(decimal: status)
            if self.enabled { line.append("\u{1B}[0m") }
        }

        /// `text` in `colour`, padded inside the colour to `width` characters.
        func write(_ text: String, _ colour: Colour, paddedTo width: Int = 0, into line: inout LogLine) {
            if self.enabled { line.append(colour.escape) }
            line.append(text, paddedTo: width)
            if self.enabled { line.append("\u{1B}[0m") }
        }
    }
}

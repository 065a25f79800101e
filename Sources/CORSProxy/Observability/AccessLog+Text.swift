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

    static func text(_ record: ExchangeRecord, time: WallClock, colour: Bool) -> String {
        let paint = Paint(enabled: colour)
        var line = ""
        line.reserveCapacity(512)  // one allocation for the line, however it grows
        line += time.clockTime
        line += " "
        line += Self.padded(record.method, 7)
        line += " "
        line += Self.padded(record.target, Self.targetWidth)
        line += " "
        line += paint.status(record.status)
        line += " "
        line += Self.padded(String(Int(record.duration / .milliseconds(1))), 5, right: true)
        line += " ms "
        let cors = record.cors
        switch cors.verdict {
        case .absent:
            line += paint.dim("no-origin")
        case .allowed(let origin, _):
            line += paint.green(Self.padded("allowed", 9)) + " " + origin
        case .refused(let origin, _):
            line += paint.red(Self.padded("refused", 9)) + " " + origin
        }
        if let fault = cors.fault { line += " " + paint.yellow("fault=\(fault)") }
        if let reason = cors.wouldBlock { line += " " + paint.yellow("would-block=\(reason.rawValue)") }
        if let code = record.errorCode { line += " error=\(code)" }
        if let limit = record.limit {
            line += " " + paint.yellow("limit=\(limit.name) retry-after=\(limit.retryAfter)s")
        }
        if let note = record.note { line += " (\(note))" }
        line += "\n"
        if let block = Block(record) {
            let indent = String(repeating: " ", count: 13)
            line += indent + paint.red("↳ blocked: ") + block.rule + "\n"
            if let fix = block.fix { line += indent + "  fix: " + fix + "\n" }
        }
        return line
    }

    static func padded(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.count
        guard count < width else { return text }
        let padding = String(repeating: " ", count: width - count)
        return right ? padding + text : text + padding
    }

    /// ANSI colours, or none.
    struct Paint {
        let enabled: Bool

        func status(_ status: Int) -> String {
            let text = String(status)
            switch status {
            case 200..<400: return self.green(text)
            case 400..<500: return self.yellow(text)
            default: return self.red(text)
            }
        }

        func green(_ text: String) -> String { self.wrap(text, "32") }
        func yellow(_ text: String) -> String { self.wrap(text, "33") }
        func red(_ text: String) -> String { self.wrap(text, "31") }
        func dim(_ text: String) -> String { self.wrap(text, "2") }

        private func wrap(_ text: String, _ code: String) -> String {
            self.enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
        }
    }
}

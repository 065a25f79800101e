#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The access log: one line per exchange (`log.format` `text` or `json`), formatted from the record into one
/// byte buffer on the exchange's event loop and handed to a ``LogDestination`` that writes it elsewhere. No token
/// reaches it: the record holds none, and the target's secret query values are redacted.
struct AccessLog: ExchangeSink {
    let format: ProxyConfig.LogFormat
    let destination: any LogDestination
    /// ANSI colours in the text format (standard error is a terminal).
    let colour: Bool

    /// - Parameters:
    ///   - format: `text` or `json`.
    ///   - destination: Where the lines go.
    ///   - colour: Colour the text format.
    init(format: ProxyConfig.LogFormat, destination: any LogDestination, colour: Bool = false) {
        self.format = format
        self.destination = destination
        self.colour = colour
    }

    func record(_ record: ExchangeRecord) {
        let now = WallClock.now()
        switch self.format {
        case .json: self.destination.write(Self.json(record, time: now).bytes)
        case .text: self.destination.write(Self.text(record, time: now, colour: self.colour).bytes)
        }
    }

    /// What the browser will make of the answer, when it blocks it: Chrome's and Firefox's messages, the rule
    /// and the fix (the `proxy.json` change, since the server is corsproxy itself).
    struct Block {
        var chrome: String?
        var firefox: String?
        var rule: String
        var fix: String?

        init?(_ record: ExchangeRecord) {
            guard let (model, verdict) = record.browserVerdict, let failure = verdict.failure else { return nil }
            self.chrome = model.chromeMessage(verdict)
            self.firefox = model.firefoxMessage(verdict, status: record.status)
            self.rule = model.explanation(failure)
            let hint: String? =
                if case .refused(_, let hint) = record.cors.verdict { hint } else { nil }
            let response = BrowserModel.Response(status: record.status, headers: record.corsLinesSent ?? [])
            let server = BrowserModel.Server(isCorsproxy: true, proxyError: record.errorCode, proxyHint: hint)
            self.fix = model.fix(for: verdict, response: response, server: server)?.summary
        }
    }
}

/// The wall clock, split for log timestamps.
struct WallClock {
    var seconds: Int
    var milliseconds: Int

    static func now() -> WallClock {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallClock(seconds: Int(spec.tv_sec), milliseconds: Int(spec.tv_nsec) / 1_000_000)
    }

    /// Broken down in UTC (`utc`) or local time.
    func parts(utc: Bool) -> tm {
        var time = time_t(self.seconds)
        var parts = tm()
        if utc { gmtime_r(&time, &parts) } else { localtime_r(&time, &parts) }
        return parts
    }

    /// `2026-12-01T15:04:05.123Z`.
    func appendISO8601(to line: inout LogLine) {
        let p = self.parts(utc: true)
        line.append(decimal: Int(p.tm_year) + 1900)
        line.append("-")
        line.append(decimal: Int(p.tm_mon) + 1, width: 2)
        line.append("-")
        line.append(decimal: Int(p.tm_mday), width: 2)
        line.append("T")
        self.appendTimeOfDay(p, to: &line)
        line.append("Z")
    }

    /// `15:04:05.123`, local time.
    func appendClockTime(to line: inout LogLine) {
        self.appendTimeOfDay(self.parts(utc: false), to: &line)
    }

    private func appendTimeOfDay(_ p: tm, to line: inout LogLine) {
        line.append(decimal: Int(p.tm_hour), width: 2)
        line.append(":")
        line.append(decimal: Int(p.tm_min), width: 2)
        line.append(":")
        line.append(decimal: Int(p.tm_sec), width: 2)
        line.append(".")
        line.append(decimal: self.milliseconds, width: 3)
    }
}

/// `log.format: "json"`: one object per line, keys in a fixed order. SPEC's fields are always there (`null` when
/// they do not apply, e.g. `route` of a refused request); the others only when they apply.
extension AccessLog {
    static func json(_ record: ExchangeRecord, time: WallClock) -> LogLine {
        var line = JSONLine()
        line.add("time", time)
        line.add("level", "info")
        line.add("requestId", record.requestID.description)
        line.add("client", record.clientAddress, orNull: true)
        line.add("method", record.method)
        line.add("target", record.target)
        line.add("host", record.host)
        line.add("route", record.route, orNull: true)
        line.add("upstream", record.upstream)
        line.add("status", record.status)
        line.add("upstreamStatus", record.upstreamStatus, orNull: true)
        line.add("durationMs", milliseconds: record.duration)
        if let upstream = record.upstreamDuration { line.add("upstreamMs", milliseconds: upstream) }
        line.add("bytesIn", Int(record.bytesIn))
        line.add("bytesOut", record.bytesOut)
        let cors = record.cors
        switch cors.verdict {
        case .absent:
            line.add("cors", "no-origin")
        case .allowed(let origin, let rule):
            line.add("cors", "allowed")
            line.add("origin", origin)
            line.add("rule", rule)
        case .refused(let origin, let hint):
            line.add("cors", "refused")
            line.add("origin", origin)
            line.add("hint", hint)
        }
        switch cors.stage {
        case .none: break
        case .actual: line.add("corsRequest", "actual")
        case .preflight: line.add("corsRequest", "preflight")
        }
        if let preflight = record.preflightRequest {
            line.add("requestMethod", preflight.method)
            let requested = preflight.headers.joined(separator: ",")
            if !requested.isEmpty { line.add("requestHeaders", requested) }
        }
        line.add("refusal", cors.preflightRefusal?.description)
        line.add("fault", cors.fault?.description)
        if let reason = cors.wouldBlock {
            line.add("wouldBlock", reason.rawValue)
            if let (model, verdict) = record.enforcedVerdict {
                line.add("wouldBlockChrome", model.chromeMessage(verdict))
            }
        }
        if let block = Block(record) {
            line.add("chrome", block.chrome)
            line.add("firefox", block.firefox)
        }
        line.add("curlCode", record.curlCode)
        line.add("error", record.errorCode)
        if let limit = record.limit {
            line.add("limit", limit.kind.rawValue)
            line.add("retryAfter", limit.retryAfter)
        }
        line.add("note", record.note)
        line.add("configVersion", record.configVersion)
        return line.finished()
    }
}

/// A JSON object written key by key into one ``LogLine``.
struct JSONLine {
    private var line = LogLine(capacity: 1024)
    private var isEmpty = true

    init() {
        self.line.append("{")
    }

    /// `key: value`; with `orNull`, `key: null` when there is no value, else nothing.
    mutating func add(_ key: StaticString, _ value: String?, orNull: Bool = false) {
        guard let value else {
            if orNull { self.null(key) }
            return
        }
        self.key(key)
        self.line.appendJSON(value)
    }

    /// `key: value`; with `orNull`, `key: null` when there is no value, else nothing.
    mutating func add(_ key: StaticString, _ value: Int?, orNull: Bool = false) {
        guard let value else {
            if orNull { self.null(key) }
            return
        }
        self.key(key)
        self.line.append(decimal: value)
    }

    /// The time as an ISO 8601 string in UTC, to the millisecond.
    mutating func add(_ key: StaticString, _ time: WallClock) {
        self.key(key)
        self.line.append("\"")
        time.appendISO8601(to: &self.line)
        self.line.append("\"")
    }

    private mutating func null(_ key: StaticString) {
        self.key(key)
        self.line.append("null")
    }

    /// A duration as milliseconds with three decimals.
    mutating func add(_ key: StaticString, milliseconds duration: Duration) {
        self.key(key)
        let micros = Int((duration / .microseconds(1)).rounded())
        self.line.append(decimal: micros / 1000)
        self.line.append(".")
        self.line.append(decimal: max(micros % 1000, 0), width: 3)
    }

    /// The object closed, with its newline.
    mutating func finished() -> LogLine {
        self.line.append("}\n")
        return self.line
    }

    private mutating func key(_ key: StaticString) {
        if !self.isEmpty { self.line.append(",") }
        self.isEmpty = false
        self.line.append("\"")
        self.line.append(key)
        self.line.append("\":")
    }
}

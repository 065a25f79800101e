/// `log.format: "json"`: one object per line, keys in a fixed order. SPEC's fields are always there (`null` when
/// they do not apply, e.g. `route` of a refused request); the others only when they apply.
extension AccessLog {
    static func json(_ record: ExchangeRecord, time: WallClock) -> String {
        var line = JSONLine()
        line.add("time", time.iso8601)
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
            line.add("limit", limit.name)
            line.add("retryAfter", limit.retryAfter)
        }
        line.add("note", record.note)
        line.add("configVersion", record.configVersion)
        return line.finished()
    }
}

/// A JSON object written key by key into one string.
struct JSONLine {
    private var text = "{"

    init() {
        self.text.reserveCapacity(1024)
    }

    /// `key: value`; with `orNull`, `key: null` when there is no value, else nothing.
    mutating func add(_ key: String, _ value: String?, orNull: Bool = false) {
        guard let value else {
            if orNull { self.null(key) }
            return
        }
        self.key(key)
        JSONString.append(value, to: &self.text)
    }

    /// `key: value`; with `orNull`, `key: null` when there is no value, else nothing.
    mutating func add(_ key: String, _ value: Int?, orNull: Bool = false) {
        guard let value else {
            if orNull { self.null(key) }
            return
        }
        self.key(key)
        self.text += String(value)
    }

    private mutating func null(_ key: String) {
        self.key(key)
        self.text += "null"
    }

    /// A duration as milliseconds with three decimals.
    mutating func add(_ key: String, milliseconds duration: Duration) {
        self.key(key)
        let micros = duration / .microseconds(1)
        let whole = Int(micros / 1000)
        let fraction = Int(micros.rounded()) % 1000
        self.text += "\(whole).\(WallClock.pad(max(fraction, 0), 3))"
    }

    /// The object closed, with its newline.
    mutating func finished() -> String {
        self.text += "}\n"
        return self.text
    }

    private mutating func key(_ key: String) {
        if self.text.utf8.count > 1 { self.text += "," }
        self.text += "\""
        self.text += key
        self.text += "\":"
    }
}

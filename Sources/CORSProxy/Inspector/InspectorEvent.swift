internal import NIOCore

/// One exchange as the inspector's list shows it: the JSON of one server-sent event. Formatted by the
/// subscriber that sends it, on its own event loop, never when the exchange is recorded.
struct InspectorEvent: Encodable {
    var requestId: String
    var time: String
    var method: String
    /// The request target, secret query values redacted.
    var path: String
    var origin: String?
    /// What the browser makes of the response: `allowed`, `blocked`, `would-block` (report-only), `no-origin`
    /// (not a CORS request) or `no-response`.
    var cors: String
    /// `preflight`, `actual`, or `null` without `Origin`.
    var stage: String?
    var status: Int
    var durationMs: Double
    var fault: String?

    init(_ entry: InspectorRing.Entry) {
        let record = entry.record
        self.requestId = record.requestID.description
        self.time = entry.time.iso8601
        self.method = record.method
        self.path = record.target
        self.origin = record.cors.verdict.origin
        self.cors = Self.verdict(of: record)
        self.stage =
            switch record.cors.stage {
            case .none: nil
            case .actual: "actual"
            case .preflight: "preflight"
            }
        self.status = record.status
        self.durationMs = (record.duration / .microseconds(100)).rounded() / 10
        self.fault = record.cors.fault?.description
    }

    static func verdict(of record: ExchangeRecord) -> String {
        guard let (_, verdict) = record.browserVerdict else {
            return record.cors.verdict.origin == nil ? "no-origin" : "no-response"
        }
        if !verdict.isAllowed { return "blocked" }
        return record.enforcedVerdict == nil ? "allowed" : "would-block"
    }

    /// The event's JSON, one line ending in a newline.
    static func json(_ entry: InspectorRing.Entry) -> ByteBuffer {
        JSONBody.encode(InspectorEvent(entry))
    }
}

extension WallClock {
    /// `2026-12-01T15:04:05.123Z`.
    var iso8601: String {
        var line = LogLine(capacity: 24)
        self.appendISO8601(to: &line)
        return String(decoding: line.bytes, as: UTF8.self)
    }
}

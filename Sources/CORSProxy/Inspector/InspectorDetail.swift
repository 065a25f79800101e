internal import NIOCore
internal import NIOHTTP1

/// One exchange in full, as `…/inspector/exchanges/ID` returns it: the list's fields, the request and response
/// headers (redacted: ``Redaction/header(name:value:)``), the CORS decision, what Chrome and Firefox print
/// when they block it and the fix, and two commands that replay it: curl, and `corsproxy doctor`. No secret
/// leaves: the token in both commands is the placeholder `$TOKEN`.
struct InspectorDetail: Encodable {
    struct Decision: Encodable {
        /// `allowed`, `refused` or `absent` (no `Origin`).
        var origin: String
        /// The `allowedOrigins` pattern that matched.
        var rule: String?
        /// The nearest miss of a refused origin (trailing slash, scheme, port, `localhost` vs `127.0.0.1`).
        var nearestMiss: String?
        var requestedMethod: String?
        var requestedHeaders: [String]?
        /// Why an allowed origin's preflight was refused.
        var refusal: String?
        /// In report-only mode, why enforcing would block it.
        var wouldBlock: String?
        var wouldBlockChrome: String?
    }

    /// What the browser does when it blocks the response.
    struct Block: Encodable {
        var chrome: String?
        var firefox: String?
        /// The CORS rule the response breaks.
        var rule: String
        var fix: String?
    }

    var exchange: InspectorEvent
    var route: String?
    var upstream: String?
    var upstreamStatus: Int?
    var requestHeaders: [[String]]
    var responseHeaders: [[String]]
    var decision: Decision
    var block: Block?
    var curl: String
    var doctor: String?
    var note: String?

    init(_ entry: InspectorRing.Entry) {
        let record = entry.record
        self.exchange = InspectorEvent(entry)
        self.route = record.route
        self.upstream = record.upstream
        self.upstreamStatus = record.upstreamStatus
        self.requestHeaders = record.requestHeaders.map { [$0.name, Redaction.header(name: $0.name, value: $0.value)] }
        self.responseHeaders = Self.lines(of: record.responseHead).map {
            [$0.name, Redaction.header(name: $0.name, value: $0.value)]
        }
        var decision = Decision(origin: "absent")
        switch record.cors.verdict {
        case .absent: break
        case .allowed(_, let rule):
            decision.origin = "allowed"
            decision.rule = rule
        case .refused(_, let hint):
            decision.origin = "refused"
            decision.nearestMiss = hint
        }
        decision.requestedMethod = record.preflightRequest?.method
        decision.requestedHeaders = record.preflightRequest?.headers
        decision.refusal = record.cors.preflightRefusal?.description
        decision.wouldBlock = record.cors.wouldBlock?.rawValue
        decision.wouldBlockChrome = record.enforcedVerdict.flatMap { $0.model.chromeMessage($0.verdict) }
        self.decision = decision
        self.block = AccessLog.Block(record).map {
            Block(chrome: $0.chrome, firefox: $0.firefox, rule: $0.rule, fix: $0.fix)
        }
        let replay = InspectorReplay(record)
        self.curl = replay.curl
        self.doctor = replay.doctor
        self.note = record.note
    }

    static func json(_ entry: InspectorRing.Entry) -> ByteBuffer {
        JSONBody.encode(InspectorDetail(entry))
    }

    /// The header lines of a serialized response head (its status line skipped).
    static func lines(of head: ByteBuffer?) -> [(name: String, value: String)] {
        guard let head else { return [] }
        let text = String(buffer: head)
        return text.split(separator: "\r\n").dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            return (String(line[..<colon]), String(value))
        }
    }
}

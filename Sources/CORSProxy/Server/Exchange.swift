internal import CurlBridge
internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// One request on a connection, from its head to the end of both directions, and what its log line reports.
/// Event loop only. A class: the handler updates it in place as events arrive.
final class Exchange {
    let id: Int
    let head: HTTPRequestHead
    let started = ContinuousClock.now
    let logger: Logger
    var verdict = CORSPolicy.OriginVerdict.absent
    var proxyBase = ""
    var route: ProxyConfig.Route?
    var upstream: String?
    var transfer: Transfer?
    var isPreflight = false
    var isRequestComplete = false
    var isResponseStarted = false
    var isResponseComplete = false
    var status: Int?
    var bytesSent = 0
    var bodyBytesReceived: Int64 = 0
    /// Close the connection after this response (the request body was not read to its end).
    var mustClose = false
    var curlCode: Int?
    /// The kind of the proxy's own error answer (`host_not_allowed`, `upstream_timeout`, …).
    var errorKind: String?
    /// Why the browser will refuse this exchange, in the proxy's words.
    var refusal: String?
    /// What Chrome will print, after its `Access to fetch at … has been blocked by CORS policy: ` prefix.
    var chromeReason: String?

    init(id: Int, head: HTTPRequestHead, logger: Logger) {
        self.id = id
        self.head = head
        self.logger = logger
    }

    /// Whether a response with `status` carries a body: not for 1xx, 204 and 304, nor for any answer to HEAD
    /// (RFC 9110 §6.4.1, §9.3.2).
    func responseHasBody(_ status: HTTPResponseStatus) -> Bool {
        status.mayHaveResponseBody && self.head.method != .HEAD
    }

    /// The response's `Connection` value, if it needs one: HTTP/1.0 keep-alive must be announced; HTTP/1.1 close
    /// must be too.
    var connectionHeader: String? {
        switch (self.head.isKeepAlive && !self.mustClose, self.head.version.isHTTP11OrLater) {
        case (false, true): "close"
        case (true, false): "keep-alive"
        default: nil
        }
    }

    /// The one log line per request: what was asked, the CORS decision and why, and what the browser will do.
    func log(status: Int, note: String? = nil) {
        // Building the metadata costs more than the rest of a preflight: skip it when the line is not wanted.
        guard self.logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "http.method": "\(self.head.method.rawValue)",
            "http.target": "\(Redaction.target(self.head.uri))",
            "http.host": "\(self.head.headers.first(name: "host") ?? "")",
            "http.status": "\(status)",
            "duration_ms": "\(Self.milliseconds(since: self.started))",
        ]
        switch self.verdict {
        case .absent:
            metadata["cors"] = "no-origin"
        case .allowed(let origin, let rule):
            metadata["cors"] = "allowed"
            metadata["cors.origin"] = "\(origin)"
            metadata["cors.rule"] = "\(rule)"
        case .refused(let origin, let hint):
            metadata["cors"] = "refused"
            metadata["cors.origin"] = "\(origin)"
            if let hint { metadata["cors.hint"] = "\(hint)" }
        }
        if self.verdict != .absent {
            metadata["cors.request"] = self.isPreflight ? "preflight" : "actual"
        }
        if self.isPreflight {
            metadata["cors.requestMethod"] = "\(self.head.headers.first(name: "access-control-request-method") ?? "")"
            let requested = self.head.headers["access-control-request-headers"].joined(separator: ",")
            if !requested.isEmpty { metadata["cors.requestHeaders"] = "\(requested)" }
        }
        if let refusal = self.refusal { metadata["cors.refusal"] = "\(refusal)" }
        if let reason = self.chromeReason, let origin = self.verdict.origin {
            metadata["chrome"] = "\(Self.chromeMessage(url: self.proxyBase + self.head.uri, origin: origin, reason: reason))"
        }
        if let upstream = self.upstream { metadata["upstream"] = "\(upstream)" }
        if self.bytesSent > 0 { metadata["bytes"] = "\(self.bytesSent)" }
        if let code = self.curlCode { metadata["curl.code"] = "\(code)" }
        if let kind = self.errorKind { metadata["proxy.error"] = "\(kind)" }
        if let note { metadata["note"] = "\(note)" }
        self.logger.info("request", metadata: metadata)
    }

    /// Chrome's console text for a blocked request (Blink `cors_error_string.cc`).
    static func chromeMessage(url: String, origin: String, reason: String) -> String {
        "Access to fetch at '\(Redaction.target(url))' from origin '\(origin)' has been blocked by CORS policy: \(reason)"
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }
}

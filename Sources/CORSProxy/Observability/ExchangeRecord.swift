internal import NIOCore
internal import NIOHTTP1
internal import Synchronization

/// One exchange, as every sink sees it: emitted once when the exchange ends, whether it completed or was
/// aborted. The log line is formatted from it; metrics, the inspector and the fault ledger read the same value.
///
/// Secrets stay out by construction: the target is redacted when read, and no header value is read out apart from
/// the `Access-Control-*` lines the proxy wrote itself, except by the inspector, which redacts them
/// (``InspectorDetail``). The response head is kept only while an inspector is attached.
struct ExchangeRecord: Sendable {
    /// Unique within the process: a random prefix per process and a counter.
    let requestID: RequestID
    private let head: HTTPRequestHead
    /// `scheme://Host` as the client addressed the proxy; `nil` when `Host` was missing or refused.
    let proxyBase: ProxyBase?
    /// The matched route's prefix and upstream, when the request was forwarded.
    let route: String?
    let upstream: String?
    /// The prefix of the route the path matched, whether or not the request was forwarded (a preflight, a
    /// refusal); `nil` when no route matches. The metrics' `route` label.
    let routePrefix: String?
    /// The status the client was sent; 499 when the exchange ended before any response.
    let status: Int
    /// The upstream's status, when its head arrived.
    let upstreamStatus: Int?
    /// Request body bytes received, and response body bytes relayed.
    let bytesIn: Int64
    let bytesOut: Int
    /// From the head's arrival to the end.
    let duration: Duration
    /// From the transfer's start to the upstream's head.
    let upstreamDuration: Duration?
    /// What CORS made of the exchange.
    let cors: CORSOutcome
    /// The `Access-Control-*` lines of the response head the client was sent; `nil` when no head was sent.
    private let sentLines: CORSOutcome.SentLines?
    /// The kind of that answer.
    let answer: CORSOutcome.Answer?
    /// The exchange was served in report-only mode.
    let isReportOnly: Bool
    /// The bounded code of the proxy's own error answer (``ProxyError/code``).
    let errorCode: String?
    /// libcurl's result code of a failed transfer.
    let curlCode: Int?
    /// New upstream connections libcurl opened for the transfer (0: a pooled one was reused, or no transfer).
    let upstreamConnectionsOpened: Int
    /// The upstream response's `X-Rate-Limit-Remaining`, when it carried a number.
    let rateLimitRemaining: Double?
    /// The proxy's limit that refused the exchange and the `Retry-After` it sent.
    let limit: (kind: RateLimitKind, retryAfter: Int)?
    let clientAddress: String?
    /// The version of the config snapshot that served it (1 at start, one more per applied reload).
    let configVersion: Int
    /// Why an exchange was aborted, or what else is worth knowing.
    let note: String?
    /// The response head as written to the client, status line to the blank line; `nil` unless an inspector is
    /// attached (``ExchangeObservers/inspector``), or when no head was sent.
    let responseHead: ByteBuffer?

    init(
        requestID: RequestID,
        head: HTTPRequestHead,
        proxyBase: ProxyBase?,
        route: String?,
        upstream: String?,
        routePrefix: String?,
        status: Int,
        upstreamStatus: Int?,
        bytesIn: Int64,
        bytesOut: Int,
        duration: Duration,
        upstreamDuration: Duration?,
        cors: CORSOutcome,
        corsLinesSent: CORSOutcome.SentLines?,
        answer: CORSOutcome.Answer?,
        isReportOnly: Bool,
        errorCode: String?,
        curlCode: Int?,
        upstreamConnectionsOpened: Int,
        rateLimitRemaining: Double?,
        limit: (kind: RateLimitKind, retryAfter: Int)?,
        clientAddress: String?,
        configVersion: Int,
        note: String?,
        responseHead: ByteBuffer? = nil
    ) {
        self.requestID = requestID
        self.head = head
        self.proxyBase = proxyBase
        self.route = route
        self.upstream = upstream
        self.routePrefix = routePrefix
        self.status = status
        self.upstreamStatus = upstreamStatus
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.duration = duration
        self.upstreamDuration = upstreamDuration
        self.cors = cors
        self.sentLines = corsLinesSent
        self.answer = answer
        self.isReportOnly = isReportOnly
        self.errorCode = errorCode
        self.curlCode = curlCode
        self.upstreamConnectionsOpened = upstreamConnectionsOpened
        self.rateLimitRemaining = rateLimitRemaining
        self.limit = limit
        self.clientAddress = clientAddress
        self.configVersion = configVersion
        self.note = note
        self.responseHead = responseHead
    }

    var method: String { self.head.method.rawValue }

    /// The request target with secret query values replaced by `REDACTED`.
    var target: String { Redaction.target(self.head.uri) }

    /// The URL the client asked for, `scheme://Host` and target, redacted as ``target``; the target alone when
    /// `Host` was missing or refused.
    var url: String { Redaction.target((self.proxyBase?.url ?? "") + self.head.uri) }

    var host: String? { self.head.headers.first(name: "host") }

    /// The request's headers as the client sent them, secrets included: for ``InspectorDetail``, which redacts.
    var requestHeaders: HTTPHeaders { self.head.headers }

    /// A request for the inspector on the main port (`/__corsproxy/inspector…`).
    var isInspectorRequest: Bool { ASCII.hasPrefix(self.head.uri.utf8, Inspector.mainPortBase.utf8) }

    /// The `Access-Control-*` lines of the head the client was sent; `nil` when no head went out.
    var corsLinesSent: [(name: String, value: String)]? { self.sentLines?.all }

    /// `Access-Control-Request-Method` and `Access-Control-Request-Headers` of a preflight.
    var preflightRequest: (method: String, headers: [String])? { self.cors.preflightRequest }

    /// What the browser does with the response the client was sent, judged by ``BrowserModel`` from the lines
    /// actually sent; `nil` for a request without `Origin`, or when no response head went out.
    var browserVerdict: (model: BrowserModel, verdict: BrowserModel.Verdict)? {
        guard let lines = self.corsLinesSent else { return nil }
        return self.judge(lines)
    }

    /// In report-only mode, what the browser would have done had the policy been enforced: judged from the lines
    /// enforcing would have sent, when that would have blocked the exchange.
    var enforcedVerdict: (model: BrowserModel, verdict: BrowserModel.Verdict)? {
        guard self.cors.wouldBlock != nil, let answer = self.answer else { return nil }
        return self.judge(self.cors.lines(for: answer, enforced: true))
    }

    private func judge(
        _ lines: [(name: String, value: String)]
    ) -> (model: BrowserModel, verdict: BrowserModel.Verdict)? {
        guard self.cors.verdict.origin != nil else { return nil }
        let response = BrowserModel.Response(status: self.status, headers: lines)
        // The URL is only in the messages of a blocked verdict: judged without it, it is added only then.
        let model = self.model(url: "")
        let verdict = model.judge(response, isPreflight: self.preflightRequest != nil)
        guard !verdict.isAllowed else { return (model, verdict) }
        return (self.model(url: self.url), verdict)
    }

    /// The browser's fetch that this exchange answered, as far as the proxy can tell.
    private func model(url: String) -> BrowserModel {
        let origin = self.cors.verdict.origin ?? ""
        // With credentials allowed, the policy reads `*` as a literal name, as a browser fetching with
        // credentials does; a request that carries cookies is credentialed whatever the config says.
        let includesCredentials = self.cors.allowsCredentials || self.head.headers.contains(name: "cookie")
        if let preflight = self.preflightRequest {
            return BrowserModel(
                request: .init(
                    preflightTo: url,
                    origin: origin,
                    method: preflight.method,
                    listedHeaders: BrowserModel.list(preflight.headers).map { $0.lowercased() },
                    includesCredentials: includesCredentials,
                    requestsPrivateNetwork: self.cors.requestsPrivateNetwork
                )
            )
        }
        return BrowserModel(
            request: .init(
                url: url,
                origin: origin,
                method: self.method,
                headers: [],
                includesCredentials: includesCredentials
            )
        )
    }
}

/// A request id: unique within the process, and across processes with high probability.
struct RequestID: Sendable, Hashable, CustomStringConvertible {
    private static let prefix = UInt32.random(in: 0x1000_0000...UInt32.max)
    private static let counter = Atomic<UInt64>(0)

    let value: UInt64

    /// The next id of this process.
    static func next() -> RequestID {
        RequestID(value: self.counter.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    var description: String { String(Self.prefix, radix: 16) + "-" + String(self.value) }
}

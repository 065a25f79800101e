internal import CurlBridge
internal import NIOCore
internal import NIOHTTP1

/// What the proxy does with a request head, decided without I/O: answer it itself, or forward it.
///
/// ``ProxyHandler`` makes a plan for every request head and carries it out; keeping the decisions here makes them
/// testable and fuzzable on their own. The order of the checks is the contract: the proxy's own endpoints, the
/// request target, `Host`, preflight, an injected answer, origin refusal, the rate limit, body size, route and the
/// route's upstream budget. So preflights, the proxy's endpoints and refused origins spend no token. The plan's
/// two inputs with state are shared by the instance and read only when the checks before them passed: the
/// ``RateLimiter``, and the ``UpstreamBudget``, which counts a request it forwards against its token's window.
/// Whatever the answer, the exchange's ``CORSOutcome`` — judged first, with its fault — decides its
/// `Access-Control-*` headers.
struct RequestPlan {
    enum Action {
        /// Answer with this response, as `answer` for its CORS headers; `closesConnection`: the answer comes
        /// before the request body was read, so the connection cannot be reused.
        case respond(ProxyResponse, as: CORSOutcome.Answer, closesConnection: Bool)
        /// Forward upstream.
        case forward(ProxyConfig.Route, TransferRequest)
        /// Answer with one of the proxy's reports (``Endpoint``).
        case serve(Endpoint)
        /// Answer from the inspector (``Inspector``), which checks `Host` itself.
        case inspect
    }

    /// The proxy's own reports, each at `/__corsproxy/NAME`; with an admin listener configured, at `/NAME` there
    /// instead.
    enum Endpoint: String {
        /// The most recent injected faults.
        case faults
        /// What report-only mode counted.
        case report
    }

    static let healthPath = "/__corsproxy/healthz"
    static let endpointPrefix = "/__corsproxy/"

    var action: Action
    /// `scheme://Host` as the client addressed the proxy; `nil` when `Host` was missing or refused.
    var proxyBase: ProxyBase?
    /// A `latency` fault: carry the action out this much later.
    var delay: TimeAmount?
    /// The token a forwarded request is budgeted under: the upstream's answer updates its window.
    var budgetKey: UpstreamBudget.Key?

    /// - Parameters:
    ///   - head: The request head.
    ///   - cors: What CORS makes of it.
    ///   - route: The route its path matches.
    ///   - snapshot: The config the exchange is served by.
    ///   - chain: The client and the hops it came through, for the rate limit's key and the forwarding headers, and
    ///     the scheme a trusted proxy reported the client used.
    ///   - limiter: The instance's buckets for `limits.rateLimit`.
    ///   - budget: The server's upstream budgets, checked on routes with `upstreamBudget`.
    init(
        head: HTTPRequestHead,
        cors: CORSOutcome,
        route: ProxyConfig.Route?,
        snapshot: ConfigSnapshot,
        chain: ForwardedChain?,
        limiter: RateLimiter? = nil,
        budget: UpstreamBudget? = nil
    ) {
        self.action = .respond(.empty(.noContent), as: .local, closesConnection: false)
        if case .latency(let milliseconds) = cors.fault { self.delay = .milliseconds(Int64(milliseconds)) }
        self.decide(
            head: head,
            cors: cors,
            route: route,
            snapshot: snapshot,
            chain: chain,
            limiter: limiter,
            budget: budget
        )
    }

    private mutating func decide(
        head: HTTPRequestHead,
        cors: CORSOutcome,
        route: ProxyConfig.Route?,
        snapshot: ConfigSnapshot,
        chain: ForwardedChain?,
        limiter: RateLimiter?,
        budget: UpstreamBudget?
    ) {
        let uri = head.uri
        let target = RequestTarget(uri)
        let path = target.path
        let config = snapshot.config
        if Inspector.contains(path, base: Inspector.mainPortBase) {
            // Here only without an admin listener and on loopback: elsewhere anyone who reaches the port would
            // read every exchange.
            guard Inspector.isOnMainPort(config) else { return self.refuse(.noRoute(path: path)) }
            self.action = .inspect
            return
        }
        if ASCII.hasPrefix(path.utf8, Self.endpointPrefix.utf8) {
            let name = path.droppingUTF8(Self.endpointPrefix.utf8.count)
            // With an admin listener the reports live there only: here they are paths like any other.
            let endpoint = config.admin == nil ? Endpoint(rawValue: String(name)) : nil
            if path == Self.healthPath || endpoint != nil {
                guard head.method == .GET || head.method == .HEAD else {
                    return self.refuse(.methodNotAllowed(path: String(path)))
                }
                if let endpoint {
                    self.action = .serve(endpoint)
                    return
                }
                return self.answer(.text(.ok, "ok"))
            }
        }
        guard uri.hasPrefix("/") else { return self.refuse(.notOriginForm) }
        let hosts = head.headers["host"]
        guard let host = hosts.first else { return self.refuse(.missingHost) }
        guard hosts.count == 1 else { return self.refuse(.duplicateHost) }
        guard let name = ConfigSnapshot.hostName(host), snapshot.allowedHosts.contains(name) else {
            return self.refuse(.hostNotAllowed(host))
        }
        // Behind a trusted proxy that terminated TLS, the client addressed the proxy as `https`.
        let proxyBase = ProxyBase(scheme: chain?.scheme?.rawValue ?? snapshot.scheme, host: host)
        self.proxyBase = proxyBase
        if cors.stage == .preflight {
            let response: ProxyResponse
            if cors.disposition == .reject, case .refused(let origin, let hint) = cors.verdict {
                response = ProxyError.originNotAllowed(origin, hint: hint).response
            } else if case .preflightStatus(let status) = cors.fault {
                response = ProxyError.injected(.preflightStatus(status)).response
            } else if cors.fault == .preflightRedirect {
                // The same URL: a preflight may not follow any redirect (Fetch, CORS-preflight fetch).
                response = ProxyResponse(
                    status: .temporaryRedirect,
                    headers: [("Location", proxyBase.url + uri)],
                    body: ByteBuffer()
                )
            } else {
                response = .empty(.noContent)
            }
            self.action = .respond(response, as: .preflight, closesConnection: false)
            return
        }
        if let fault = cors.fault, fault.replacesActualAnswer {
            // The upstream is not called.
            return self.refuse(.injected(fault))
        }
        if cors.disposition == .reject, case .refused(let origin, let hint) = cors.verdict {
            return self.refuse(.originNotAllowed(origin, hint: hint))
        }
        if let rateLimit = config.limits.rateLimit, let limiter {
            // Without `Origin`, an origin limit keys by client address: curl and server-side callers are limited
            // one by one, not all as one.
            let client = RateLimiter.Key.client(chain?.client ?? "")
            let origin = rateLimit.key == .origin ? head.headers.first(name: "origin") : nil
            let key = origin.map { RateLimiter.Key.origin($0) } ?? client
            if let retryAfter = limiter.take(key, limit: rateLimit, version: snapshot.version).retryAfterSeconds {
                return self.refuse(.rateLimited(rateLimit, retryAfter: retryAfter))
            }
        }
        let limit = config.limits.maxBodyBytes
        if limit > 0, let length = head.headers.first(name: "content-length").flatMap({ Int64($0) }), length > limit {
            self.action = .respond(ProxyError.bodyTooLarge(limit: limit).response, as: .local, closesConnection: true)
            return
        }
        guard let route else { return self.refuse(.noRoute(path: path)) }
        if let settings = route.upstreamBudget, let budget,
            let key = budget.key(for: head.headers, upstream: route.upstream.origin)
        {
            let decision = budget.admit(key, minimumRemaining: settings.minimumRemaining)
            if case .refuse(let remaining, let resetsAt, let retryAfter) = decision {
                return self.refuse(
                    .upstreamBudgetExhausted(
                        upstream: route.upstream.description,
                        remaining: remaining,
                        minimumRemaining: settings.minimumRemaining,
                        resetsAt: resetsAt,
                        retryAfter: retryAfter
                    )
                )
            }
            self.budgetKey = key
        }
        var query = target.query
        let requestControl = snapshot.faults?.requestControl ?? false
        if requestControl, let all = query, FaultInjector.parameterValue(in: uri) != nil {
            // Request control's parameter is the proxy's; the upstream never sees it.
            let rest = FaultInjector.removingParameter(from: all)
            query = rest.isEmpty ? nil : rest
        }
        let request = TransferRequest(
            method: head.method.rawValue,
            url: Router.upstreamURL(route: route, path: path, query: query),
            headers: HeaderFilter.requestHeaders(
                head.headers,
                forwardCookies: route.forwardCookies,
                chain: chain,
                style: config.forwardedHeaders,
                scheme: snapshot.scheme,
                dropsFaultHeader: requestControl
            ),
            body: Self.bodyFraming(head),
            connectTimeoutMilliseconds: snapshot.connectTimeoutMilliseconds,
            totalTimeoutMilliseconds: snapshot.totalTimeoutMilliseconds,
            stallTimeoutSeconds: snapshot.stallTimeoutSeconds,
            isHTTP2: route.http2,
            caFile: route.caFile,
            proxy: route.proxy?.description
        )
        self.action = .forward(route, request)
    }

    private mutating func answer(_ response: ProxyResponse) {
        self.action = .respond(response, as: .local, closesConnection: false)
    }

    /// Answers with the proxy's error; a limit's refusal also exposes its `Retry-After` (``CORSOutcome/Answer/limited``).
    private mutating func refuse(_ error: ProxyError) {
        self.action = .respond(error.response, as: error.limit == nil ? .local : .limited, closesConnection: false)
    }

    /// How the request body is framed upstream: chunked stays chunked, a length stays a length; a `POST`,
    /// `PUT` or `PATCH` without a body still sends `Content-Length: 0`.
    static func bodyFraming(_ head: HTTPRequestHead) -> TransferRequest.Body {
        if head.headers["transfer-encoding"].contains(where: { $0.lowercased().contains("chunked") }) {
            return .chunked
        }
        if let text = head.headers.first(name: "content-length"), let length = Int64(text), length > 0 {
            return .length(length)
        }
        if head.headers.first(name: "content-length") != nil || [.POST, .PUT, .PATCH].contains(head.method) {
            return head.method == .GET || head.method == .HEAD ? .none : .length(0)
        }
        return .none
    }
}

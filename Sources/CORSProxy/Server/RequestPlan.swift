internal import CurlBridge
internal import NIOHTTP1

/// What the proxy does with a request head, decided without I/O: answer it itself, or forward it.
///
/// ``ProxyHandler`` makes a plan for every request head and carries it out; keeping the decisions here makes them
/// testable and fuzzable on their own. The order of the checks is the contract: the origin is judged first so
/// every answer carries the CORS headers it earned; then the health check, the request target, `Host`,
/// preflight, origin refusal, body size and route.
struct RequestPlan {
    enum Action {
        /// Answer with this response. `addsCORS`: add the policy's actual-response headers for an allowed origin
        /// (a preflight answer already carries its own).
        case respond(ProxyResponse, addsCORS: Bool)
        /// Forward upstream.
        case forward(ProxyConfig.Route, TransferRequest)
    }

    static let healthPath = "/__corsproxy/healthz"
    static let missingAllowOrigin = "No 'Access-Control-Allow-Origin' header is present on the requested resource."

    var action: Action
    var verdict: CORSPolicy.OriginVerdict
    /// `scheme://Host` as the client addressed the proxy; empty when `Host` was missing or refused.
    var proxyBase = ""
    var isPreflight = false
    /// Why the browser will refuse this exchange, in the proxy's words.
    var refusal: String?
    /// What Chrome will print after its `Access to fetch at … has been blocked by CORS policy: ` prefix.
    var chromeReason: String?
    /// The answer comes before the request body was read: the connection cannot be reused.
    var isAnsweredBeforeBody = false

    /// - Parameters:
    ///   - head: The request head.
    ///   - verdict: The policy's verdict on the head's `Origin`, when the caller already has it.
    ///   - context: The server's config and what is precomputed from it.
    ///   - clientAddress: The client's IP, for `X-Forwarded-For`.
    init(head: HTTPRequestHead, verdict: CORSPolicy.OriginVerdict? = nil, context: ProxyContext, clientAddress: String?) {
        self.verdict = verdict ?? context.policy.judge(origin: head.headers.first(name: "origin"))
        self.action = .respond(.empty(.noContent), addsCORS: false)
        self.decide(head: head, context: context, clientAddress: clientAddress)
    }

    private mutating func decide(head: HTTPRequestHead, context: ProxyContext, clientAddress: String?) {
        let uri = head.uri
        let path = uri.prefix { $0 != "?" }
        let config = context.config
        if path == Self.healthPath {
            guard head.method == .GET || head.method == .HEAD else {
                var response = ProxyResponse.json(.methodNotAllowed, error: "method_not_allowed", message: "\(Self.healthPath) answers GET and HEAD")
                response.headers.add(name: "Allow", value: "GET, HEAD")
                return self.answer(response)
            }
            return self.answer(.text(.ok, "ok"))
        }
        guard uri.hasPrefix("/") else {
            return self.answer(
                .json(.badRequest, error: "bad_request_target", message: "only origin-form request targets (/path?query) are served; this is not a forward proxy")
            )
        }
        guard let host = head.headers.first(name: "host") else {
            return self.answer(.json(.badRequest, error: "missing_host", message: "the request has no Host header"))
        }
        guard let name = ProxyContext.hostName(host), context.allowedHosts.contains(name) else {
            return self.answer(
                .json(
                    .forbidden,
                    error: "host_not_allowed",
                    message: "Host \(host) is not in allowedHosts; add its host name to allowedHosts in the config if this proxy is meant to be reached under that name",
                    details: ["host": host]
                )
            )
        }
        self.proxyBase = context.scheme + "://" + host
        if head.method == .OPTIONS, let requestMethod = head.headers.first(name: "access-control-request-method"),
            self.verdict != .absent
        {
            return self.answerPreflight(head, requestMethod: requestMethod, context: context)
        }
        if case .refused(let origin, let hint) = self.verdict, config.cors.disallowedOrigin == .reject {
            self.chromeReason = Self.missingAllowOrigin
            return self.answer(Self.originRefusal(origin: origin, hint: hint))
        }
        let limit = config.limits.maxBodyBytes
        if limit > 0, let length = head.headers.first(name: "content-length").flatMap({ Int64($0) }), length > limit {
            self.isAnsweredBeforeBody = true
            return self.answer(Self.bodyTooLarge(limit))
        }
        guard let route = context.router.route(for: path) else {
            return self.answer(
                .json(.notFound, error: "no_route", message: "no route of the config matches \(path)", details: ["path": String(path)])
            )
        }
        let query = uri.firstIndex(of: "?").map { uri[uri.index(after: $0)...] }
        let request = TransferRequest(
            method: head.method.rawValue,
            url: Router.upstreamURL(route: route, path: path, query: query),
            headers: HeaderFilter.requestHeaders(
                head.headers,
                forwardCookies: route.forwardCookies,
                clientAddress: clientAddress,
                scheme: context.scheme
            ),
            body: Self.bodyFraming(head),
            connectTimeoutMilliseconds: Int(config.timeouts.connect * 1000),
            totalTimeoutMilliseconds: Int(config.timeouts.total * 1000),
            stallTimeoutSeconds: Int(config.timeouts.idle.rounded(.up)),
            isHTTP2: route.http2,
            caFile: route.caFile
        )
        self.action = .forward(route, request)
    }

    /// An answer of the proxy's own, carrying the CORS headers the origin earned and `Vary: Origin`.
    private mutating func answer(_ response: ProxyResponse) {
        var response = response
        response.headers.replaceOrAdd(name: "Vary", value: "Origin")
        self.action = .respond(response, addsCORS: true)
    }

    private mutating func answerPreflight(_ head: HTTPRequestHead, requestMethod: String, context: ProxyContext) {
        let privateNetwork = head.headers.first(name: "access-control-request-private-network").map {
            ASCII.equalsIgnoringCase($0, "true")
        } ?? false
        self.isPreflight = true
        var response = ProxyResponse.empty(.noContent)
        switch self.verdict {
        case .allowed(let origin, _):
            let preflight = context.policy.preflight(
                origin: origin,
                method: requestMethod,
                requestHeaders: head.headers["access-control-request-headers"],
                privateNetwork: privateNetwork
            )
            for (name, value) in preflight.headers { response.headers.add(name: name, value: value) }
            self.refusal = preflight.refusal
            self.chromeReason = preflight.chromeReason.map { "Response to preflight request doesn't pass access control check: \($0)" }
        case .refused(let origin, let hint):
            self.chromeReason = "Response to preflight request doesn't pass access control check: \(Self.missingAllowOrigin)"
            if context.config.cors.disallowedOrigin == .reject {
                response = Self.originRefusal(origin: origin, hint: hint)
            }
        case .absent:
            preconditionFailure("a preflight always has an Origin")
        }
        response.headers.add(name: "Vary", value: context.preflightVary)
        self.action = .respond(response, addsCORS: false)
    }

    static func originRefusal(origin: String, hint: String?) -> ProxyResponse {
        var details = [
            "origin": origin,
            "fix": "add \"\(origin)\" to cors.allowedOrigins in the proxy config",
        ]
        details["hint"] = hint
        return .json(.forbidden, error: "origin_not_allowed", message: "Origin \(origin) is not in cors.allowedOrigins", details: details)
    }

    static func bodyTooLarge(_ limit: Int64) -> ProxyResponse {
        .json(.payloadTooLarge, error: "body_too_large", message: "the request body is larger than limits.maxBodyBytes (\(limit) bytes)", details: ["limit": limit])
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

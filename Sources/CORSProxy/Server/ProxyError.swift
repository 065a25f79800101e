internal import CurlBridge
internal import FoundationEssentials
internal import NIOCore
internal import NIOHTTP1

/// A failure the proxy answers itself: the one mapping from what went wrong to an HTTP status and a JSON body.
///
/// A struct over a private code, like Hummingbird's `HTTPError` and async-http-client's `HTTPClientError`: cases
/// can be added without breaking a `switch`, and ``code`` is a bounded string, safe as a log field and a metric
/// label. Two errors are equal when their codes are; the message and details are for people.
struct ProxyError: Error, Hashable, CustomStringConvertible {
    private enum Code: String {
        case badRequest = "bad_request"
        case headersTooLarge = "headers_too_large"
        case badRequestTarget = "bad_request_target"
        case missingHost = "missing_host"
        case duplicateHost = "duplicate_host"
        case hostNotAllowed = "host_not_allowed"
        case methodNotAllowed = "method_not_allowed"
        case originNotAllowed = "origin_not_allowed"
        case bodyTooLarge = "body_too_large"
        case noRoute = "no_route"
        case notFound = "not_found"
        case upstreamTimeout = "upstream_timeout"
        case upstreamUnreachable = "upstream_unreachable"
        case upstreamError = "upstream_error"
        case injectedFault = "injected_fault"
        case rateLimited = "rate_limited"
        case upstreamBudgetExhausted = "upstream_budget_exhausted"
    }

    /// A value of the JSON body beside `error` and `message`.
    enum Detail: Hashable {
        case string(String)
        case integer(Int64)
    }

    private let _code: Code
    /// The status of an injected fault's answer.
    private let injectedStatus: Int?
    /// The limit that refused the request, and its `Retry-After` in whole seconds.
    let limit: (kind: RateLimitKind, retryAfter: Int)?
    /// What happened and what to do about it, in one sentence.
    let message: String
    /// Further fields of the JSON body, in order.
    let details: [(key: String, value: Detail)]

    private init(
        _ code: Code,
        _ message: String,
        _ details: [(key: String, value: Detail)] = [],
        injectedStatus: Int? = nil,
        limit: (kind: RateLimitKind, retryAfter: Int)? = nil
    ) {
        self._code = code
        self.injectedStatus = injectedStatus
        self.limit = limit
        self.message = message
        self.details = details
    }

    /// The bounded name of the failure (`host_not_allowed`, `upstream_timeout`, …): the body's `error` field.
    var code: String { self._code.rawValue }

    /// The status each failure is answered with.
    var status: HTTPResponseStatus {
        switch self._code {
        case .badRequest, .badRequestTarget, .missingHost, .duplicateHost: .badRequest
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .hostNotAllowed, .originNotAllowed: .forbidden
        case .methodNotAllowed: .methodNotAllowed
        case .bodyTooLarge: .payloadTooLarge
        case .noRoute, .notFound: .notFound
        case .upstreamTimeout: .gatewayTimeout
        case .upstreamUnreachable, .upstreamError: .badGateway
        case .upstreamBudgetExhausted: .tooManyRequests
        case .injectedFault: HTTPResponseStatus(statusCode: self.injectedStatus ?? 503)
        case .rateLimited: .tooManyRequests
        }
    }

    var description: String { "\(self.code): \(self.message)" }

    static func == (lhs: ProxyError, rhs: ProxyError) -> Bool { lhs._code == rhs._code }

    func hash(into hasher: inout Hasher) { hasher.combine(self._code) }

    /// The answer: the status, `{"error": code, "message": …, …details}` and the headers that go with it.
    /// The CORS headers and `Vary` are the exchange's ``CORSOutcome``'s to add; a `Retry-After` of a refusal
    /// that ends is exposed to scripts with them.
    var response: ProxyResponse {
        var headers = [
            (name: "Content-Type", value: "application/json"),
            (name: "Cache-Control", value: "no-store"),
        ]
        if self._code == .methodNotAllowed { headers.append(("Allow", "GET, HEAD")) }
        if self._code == .injectedFault { headers.append(("Retry-After", "5")) }
        if let limit = self.limit { headers.append(("Retry-After", String(limit.retryAfter))) }
        return ProxyResponse(status: self.status, headers: headers, body: self.jsonBody, error: self)
    }

    private var jsonBody: ByteBuffer {
        var object: [String: Detail] = [:]
        for (key, value) in self.details { object[key] = value }
        object["error"] = .string(self.code)
        object["message"] = .string(self.message)
        return JSONBody.encode(object)
    }

    // MARK: The failures

    /// A request NIO's decoder could not parse (RFC 9112 §2.2).
    static func malformedRequest(_ cause: HTTPParserError) -> ProxyError {
        ProxyError(.badRequest, "malformed HTTP request: \(cause)")
    }

    /// A request head over `limits.maxHeaderBytes` (RFC 6585 §5).
    static let headersTooLarge = ProxyError(.headersTooLarge, "the request head is larger than limits.maxHeaderBytes")

    /// An absolute-form or authority-form target: the proxy is a reverse proxy, never a forward one.
    static let notOriginForm = ProxyError(
        .badRequestTarget,
        "only origin-form request targets (/path?query) are served; this is not a forward proxy"
    )

    static let missingHost = ProxyError(.missingHost, "the request has no Host header")

    /// RFC 9112 §3.2: a request with more than one `Host` field line is answered 400.
    static let duplicateHost = ProxyError(.duplicateHost, "the request has more than one Host header")

    /// A `Host` not in `allowedHosts` (DNS rebinding defence).
    static func hostNotAllowed(_ host: String) -> ProxyError {
        ProxyError(
            .hostNotAllowed,
            "Host \(host) is not in allowedHosts; add its host name to allowedHosts in the config if this proxy is meant to be reached under that name",
            [("host", .string(host))]
        )
    }

    /// A method the proxy's own endpoint does not answer.
    static func methodNotAllowed(path: String) -> ProxyError {
        ProxyError(.methodNotAllowed, "\(path) answers GET and HEAD")
    }

    /// An origin no pattern admits, with `disallowedOrigin: "reject"`.
    static func originNotAllowed(_ origin: String, hint: String?) -> ProxyError {
        var details: [(key: String, value: Detail)] = [
            ("origin", .string(origin)),
            ("fix", .string("add \"\(origin)\" to cors.allowedOrigins in the proxy config")),
        ]
        if let hint { details.append(("hint", .string(hint))) }
        return ProxyError(.originNotAllowed, "Origin \(origin) is not in cors.allowedOrigins", details)
    }

    static func bodyTooLarge(limit: Int64) -> ProxyError {
        ProxyError(
            .bodyTooLarge,
            "the request body is larger than limits.maxBodyBytes (\(limit) bytes)",
            [("limit", .integer(limit))]
        )
    }

    /// A path the admin listener does not serve.
    static func noAdminEndpoint(path: String, known: [String]) -> ProxyError {
        ProxyError(
            .notFound,
            "the admin listener serves \(known.joined(separator: ", ")); not \(path)",
            [("path", .string(path))]
        )
    }

    static func noRoute(path: Substring) -> ProxyError {
        ProxyError(.noRoute, "no route of the config matches \(path)", [("path", .string(String(path)))])
    }

    /// A transfer that failed before the upstream's head arrived.
    static func upstream(_ error: CurlError, upstream: String) -> ProxyError {
        let details: [(key: String, value: Detail)] = [
            ("upstream", .string(upstream)),
            ("cause", .string(error.message)),
            ("curlCode", .integer(Int64(error.code))),
        ]
        if error.isTimeout {
            return ProxyError(.upstreamTimeout, "\(upstream) did not answer in time: \(error.message)", details)
        }
        if error.isMalformedURL {
            return ProxyError(
                .badRequestTarget,
                "the request target cannot be forwarded: \(error.message)",
                details
            )
        }
        let code: Code = error.isUnreachable ? .upstreamUnreachable : .upstreamError
        return ProxyError(code, "\(upstream) could not be reached: \(error.message)", details)
    }

    /// The answer of a fault that replaces the proxy's correct one: `error-without-cors` (429), `status` (its N)
    /// and `preflight-status` (its N). It says it was injected, for whoever can read it.
    static func injected(_ fault: Fault) -> ProxyError {
        let status: Int
        switch fault {
        case .errorWithoutCORS: status = 429
        case .status(let code), .preflightStatus(let code): status = code
        default: preconditionFailure("\(fault) does not replace the answer")
        }
        return ProxyError(
            .injectedFault,
            "corsproxy injected the fault \(fault) into this response (faults in the proxy config or the request)",
            [("fault", .string(fault.kind))],
            injectedStatus: status
        )
    }

    /// A request over `limits.rateLimit` (RFC 6585 §4): `Retry-After` is when its key has a token again.
    static func rateLimited(_ rateLimit: ProxyConfig.RateLimit, retryAfter: Int) -> ProxyError {
        let key = rateLimit.key == .origin ? "origin" : "client address"
        return ProxyError(
            .rateLimited,
            "over limits.rateLimit (\(ConfigReader.format(rateLimit.rate)) requests per second per \(key), bursts of \(rateLimit.burst)); retry after \(retryAfter) s",
            [("limit", .string("rate")), ("retryAfter", .integer(Int64(retryAfter)))],
            limit: (.rate, retryAfter)
        )
    }

    /// A token whose upstream budget is down to the route's `upstreamBudget.minimumRemaining`: 429 until the
    /// upstream's window resets, instead of spending the token's last requests.
    /// - Parameters:
    ///   - upstream: The route's upstream.
    ///   - remaining: The requests the window has left.
    ///   - minimumRemaining: The route's minimum.
    ///   - resetsAt: The window's reset, Unix seconds.
    ///   - retryAfter: Whole seconds until then, at least 1.
    static func upstreamBudgetExhausted(
        upstream: String,
        remaining: Int,
        minimumRemaining: Int,
        resetsAt: Int64,
        retryAfter: Int
    ) -> ProxyError {
        let resetAt = Date(timeIntervalSince1970: Double(resetsAt)).ISO8601Format()
        return ProxyError(
            .upstreamBudgetExhausted,
            "this token has \(remaining) requests left at \(upstream), no more than the route's upstreamBudget.minimumRemaining (\(minimumRemaining)); the proxy answers 429 until the upstream's rate-limit window resets at \(resetAt)",
            [
                ("upstream", .string(upstream)),
                ("remaining", .integer(Int64(remaining))),
                ("minimumRemaining", .integer(Int64(minimumRemaining))),
                ("reset", .integer(resetsAt)),
                ("resetAt", .string(resetAt)),
                ("retryAfter", .integer(Int64(retryAfter))),
            ],
            limit: (.upstreamBudget, retryAfter)
        )
    }

    /// An upstream head whose `Content-Length` values differ or are not numbers (RFC 9112 §6.3): its framing is
    /// unknowable, so it is never passed on.
    static func untrustedLength(upstream: String, lengths: [String]) -> ProxyError {
        ProxyError(
            .upstreamError,
            "\(upstream) sent a Content-Length the proxy cannot trust",
            [
                ("upstream", .string(upstream)),
                (
                    "cause",
                    .string("conflicting or malformed Content-Length: \(lengths.sorted().joined(separator: ", "))")
                ),
            ]
        )
    }
}

extension ProxyError.Detail: Encodable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .integer(let number): try container.encode(number)
        }
    }
}

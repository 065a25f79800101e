/// The CORS decisions of the proxy, as pure functions of the config and the request: no I/O.
///
/// Header values that do not depend on the request (the allowed method and header lists, max age, exposed
/// headers) are computed once here, not per request.
public struct CORSPolicy: Sendable {
    /// What the policy makes of a request's `Origin`.
    public enum OriginVerdict: Sendable, Equatable {
        /// No `Origin` header: not a CORS request (curl, server-side calls). Forwarded without CORS headers.
        case absent
        /// Admitted by `rule`; `origin` is the header value, echoed byte for byte in
        /// `Access-Control-Allow-Origin`.
        case allowed(origin: String, rule: String)
        /// No pattern admits it; `hint` names the nearest miss when there is one.
        case refused(origin: String, hint: String?)

        /// The `Origin` header value, when there was one.
        public var origin: String? {
            switch self {
            case .absent: nil
            case .allowed(let origin, _), .refused(let origin, _): origin
            }
        }
    }

    /// The proxy's answer to a preflight.
    public struct Preflight: Sendable {
        /// The headers of the 204 answer.
        public var headers: [(name: String, value: String)]
        /// Why the browser will refuse the actual request, or `nil` when the preflight passes.
        public var refusal: String?
        /// What Chrome prints when it refuses, without the `Access to fetch at … ` prefix.
        public var chromeReason: String?
    }

    public let configuration: ProxyConfig.CORS
    private let allowMethodsValue: String
    private let allowHeadersValue: String
    private let exposeHeadersValue: String?
    private let allowedHeaderNames: [[UInt8]]
    private let isHeaderWildcard: Bool
    private let isMethodWildcard: Bool
    /// The preflight answer's headers after `Access-Control-Allow-Origin`: the same for every allowed origin.
    private let preflightHeaders: [(name: String, value: String)]
    /// An actual response's headers after `Access-Control-Allow-Origin`.
    private let actualHeaders: [(name: String, value: String)]

    /// - Parameter configuration: The checked `cors` section of the config.
    public init(configuration: ProxyConfig.CORS) {
        self.configuration = configuration
        self.allowMethodsValue = configuration.allowedMethods.joined(separator: ", ")
        self.allowHeadersValue = configuration.allowedHeaders.joined(separator: ", ")
        self.exposeHeadersValue =
            configuration.exposedHeaders.isEmpty ? nil : configuration.exposedHeaders.joined(separator: ", ")
        self.allowedHeaderNames = configuration.allowedHeaders.map { Array($0.lowercased().utf8) }
        // Fetch: with credentials, `*` in these lists is a literal name, not a wildcard.
        self.isHeaderWildcard = !configuration.allowCredentials && configuration.allowedHeaders.contains("*")
        self.isMethodWildcard = !configuration.allowCredentials && configuration.allowedMethods.contains("*")
        var preflightHeaders: [(name: String, value: String)] = []
        if configuration.allowCredentials {
            preflightHeaders.append(("Access-Control-Allow-Credentials", "true"))
        }
        preflightHeaders.append(("Access-Control-Allow-Methods", self.allowMethodsValue))
        if !self.allowHeadersValue.isEmpty {
            preflightHeaders.append(("Access-Control-Allow-Headers", self.allowHeadersValue))
        }
        preflightHeaders.append(("Access-Control-Max-Age", String(configuration.maxAge)))
        self.preflightHeaders = preflightHeaders
        var actualHeaders: [(name: String, value: String)] = []
        if configuration.allowCredentials {
            actualHeaders.append(("Access-Control-Allow-Credentials", "true"))
        }
        if let expose = self.exposeHeadersValue {
            actualHeaders.append(("Access-Control-Expose-Headers", expose))
        }
        self.actualHeaders = actualHeaders
    }

    /// Judges the `Origin` header (`nil` when absent).
    public func judge(origin header: String?) -> OriginVerdict {
        guard let header else { return .absent }
        if let origin = Origin(header),
            let rule = self.configuration.allowedOrigins.first(where: { $0.matches(origin) })
        {
            return .allowed(origin: header, rule: rule.source)
        }
        return .refused(origin: header, hint: self.nearestMiss(header))
    }

    /// Headers for an actual (non-preflight) response to an allowed origin. `Vary: Origin` is added by the
    /// caller, which merges it with the upstream's `Vary`.
    public func responseHeaders(origin: String) -> [(name: String, value: String)] {
        var headers = [(name: "Access-Control-Allow-Origin", value: origin)]
        headers.reserveCapacity(self.actualHeaders.count + 1)
        headers += self.actualHeaders
        return headers
    }

    /// Answers a preflight from an allowed origin.
    /// - Parameters:
    ///   - origin: The `Origin` header value, already judged allowed.
    ///   - method: `Access-Control-Request-Method`.
    ///   - requestHeaders: Every `Access-Control-Request-Headers` value.
    ///   - privateNetwork: Whether `Access-Control-Request-Private-Network: true` was sent.
    public func preflight(origin: String, method: String, requestHeaders: [String], privateNetwork: Bool) -> Preflight {
        var headers = [(name: "Access-Control-Allow-Origin", value: origin)]
        headers.reserveCapacity(self.preflightHeaders.count + 2)
        headers += self.preflightHeaders
        if privateNetwork && self.configuration.allowPrivateNetwork {
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        }
        var preflight = Preflight(headers: headers)
        if !self.isMethodAllowed(method) {
            preflight.refusal = "method \(method) is not in cors.allowedMethods [\(self.allowMethodsValue)]"
            preflight.chromeReason =
                "Method \(method) is not allowed by Access-Control-Allow-Methods in preflight response."
        } else if let header = self.firstDisallowedHeader(requestHeaders) {
            preflight.refusal = "header \(header) is not in cors.allowedHeaders [\(self.allowHeadersValue)]"
            preflight.chromeReason =
                "Request header field \(header) is not allowed by Access-Control-Allow-Headers in preflight response."
        } else if privateNetwork && !self.configuration.allowPrivateNetwork {
            preflight.refusal = "private network access was requested and cors.allowPrivateNetwork is false"
            preflight.chromeReason =
                "No 'Access-Control-Allow-Private-Network' header was present in the preflight response for this private network request targeting the `local` address space."
        }
        return preflight
    }

    /// Fetch: a method passes when listed, when CORS-safelisted (GET, HEAD, POST), or when `*` is listed
    /// without credentials. Method names compare case-sensitively, as browsers do.
    func isMethodAllowed(_ method: String) -> Bool {
        ["GET", "HEAD", "POST"].contains(method) || self.configuration.allowedMethods.contains(method)
            || self.isMethodWildcard
    }

    /// Fetch: a header passes when listed (case-insensitively), or when `*` is listed without credentials and
    /// the header is not `Authorization`, which a wildcard never covers.
    func isHeaderAllowed(_ name: some Collection<UInt8>) -> Bool {
        self.allowedHeaderNames.contains { ASCII.equalsIgnoringCase(name, $0) }
            || (self.isHeaderWildcard && !ASCII.equalsIgnoringCase(name, "authorization".utf8))
    }

    /// The first name of the `Access-Control-Request-Headers` values (comma-separated, spaces and empty items
    /// tolerated) that the policy does not allow, lowercased; `nil` when all pass, which allocates nothing.
    func firstDisallowedHeader(_ values: [String]) -> String? {
        var refused: String?
        for value in values {
            ASCII.forEachListElement(in: value) { name in
                guard !self.isHeaderAllowed(name) else { return true }
                refused = String(Substring(name)).lowercased()
                return false
            }
            if refused != nil { break }
        }
        return refused
    }

    /// The allowed origin that a refused one almost is: a trailing slash, another scheme or port, or
    /// `localhost` where `127.0.0.1` is listed (and the reverse).
    func nearestMiss(_ header: String) -> String? {
        let exact = self.configuration.allowedOrigins.compactMap(\.exactOrigin)
        var candidate = header
        if candidate.hasSuffix("/") {
            candidate.removeLast()
            if let origin = Origin(candidate), exact.contains(origin) {
                return "trailing slash: an Origin never ends with \"/\"; the browser sends \(origin)"
            }
        }
        guard let origin = Origin(candidate) else {
            return header == "null"
                ? "\"null\" is the opaque origin of sandboxed iframes, file: and data: pages; it cannot be allowed safely"
                : "not a serialized origin (scheme://host[:port], nothing after it)"
        }
        for allowed in exact where allowed.host == origin.host {
            if allowed.scheme != origin.scheme {
                return "scheme differs: \(allowed) is allowed, the request came from \(origin)"
            }
            if allowed.port != origin.port {
                return "port differs: \(allowed) is allowed, the request came from \(origin)"
            }
        }
        let loopback: [String: String] = ["localhost": "127.0.0.1", "127.0.0.1": "localhost"]
        if let other = loopback[origin.host] {
            for allowed in exact where allowed.host == other && allowed.scheme == origin.scheme && allowed.port == origin.port {
                return "localhost and 127.0.0.1 are different origins: \(allowed) is allowed, not \(origin)"
            }
        }
        return nil
    }
}

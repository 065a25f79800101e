/// The CORS decisions of the proxy, as pure functions of the config and the request: no I/O. What they mean for
/// one exchange's answers, and the `Access-Control-*` headers themselves, are ``CORSOutcome``'s.
///
/// Immutable, and a class so that handing it on is one reference: as a struct of a dozen fields, every copy
/// the judging closures made retained each of them (about 1,900 instructions a preflight).
public final class CORSPolicy: Sendable {
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

    /// Why a preflight from an allowed origin fails the policy: the first of method, headers and private network
    /// access that is not allowed.
    public enum PreflightRefusal: Sendable, Equatable, CustomStringConvertible {
        /// `Access-Control-Request-Method` is not allowed; `allowed` is the configured list.
        case method(String, allowed: String)
        /// A name in `Access-Control-Request-Headers` (lowercased) is not allowed.
        case header(String, allowed: String)
        /// `Access-Control-Request-Private-Network: true` with `allowPrivateNetwork` off.
        case privateNetwork

        /// The refusal in the proxy's words, naming the config key to change.
        public var description: String {
            switch self {
            case .method(let method, let allowed): "method \(method) is not in cors.allowedMethods [\(allowed)]"
            case .header(let name, let allowed): "header \(name) is not in cors.allowedHeaders [\(allowed)]"
            case .privateNetwork: "private network access was requested and cors.allowPrivateNetwork is false"
            }
        }
    }

    public let configuration: ProxyConfig.CORS
    /// `allowedMethods` as one list value.
    let allowMethodsValue: String
    /// `allowedHeaders` as one list value.
    let allowHeadersValue: String
    /// `exposedHeaders` as one list value; `nil` when there are none.
    let exposeHeadersValue: String?
    private let allowedHeaderNames: [[UInt8]]
    private let isHeaderWildcard: Bool
    private let isMethodWildcard: Bool

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

    /// Judges a preflight from an allowed origin.
    /// - Parameters:
    ///   - method: `Access-Control-Request-Method`.
    ///   - requestHeaders: Every `Access-Control-Request-Headers` value.
    ///   - privateNetwork: Whether `Access-Control-Request-Private-Network: true` was sent.
    /// - Returns: Why the browser will refuse the actual request, or `nil` when the preflight passes.
    public func judgePreflight(method: String, requestHeaders: [String], privateNetwork: Bool) -> PreflightRefusal? {
        if !self.isMethodAllowed(method) { return .method(method, allowed: self.allowMethodsValue) }
        if let header = self.firstDisallowedHeader(requestHeaders) {
            return .header(header, allowed: self.allowHeadersValue)
        }
        if privateNetwork && !self.configuration.allowPrivateNetwork { return .privateNetwork }
        return nil
    }

    /// Fetch: a method passes when listed, when CORS-safelisted (GET, HEAD, POST), or when `*` is listed
    /// without credentials. Method names compare case-sensitively, as browsers do.
    func isMethodAllowed(_ method: String) -> Bool {
        BrowserModel.safelistedMethods.contains(method) || self.configuration.allowedMethods.contains(method)
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
                refused = String(decoding: name, as: UTF8.self).lowercased()
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
            for allowed in exact
            where allowed.host == other && allowed.scheme == origin.scheme && allowed.port == origin.port {
                return "localhost and 127.0.0.1 are different origins: \(allowed) is allowed, not \(origin)"
            }
        }
        return nil
    }
}

extension ProxyConfig {
    /// `routes[].upstreamBudget`: spare each token's last upstream requests.
    public struct UpstreamBudgetSettings: Sendable, Hashable {
        /// Once the upstream's `X-Rate-Limit-Remaining` for a token is at most this, the proxy answers 429
        /// itself until the upstream's `X-Rate-Limit-Reset`.
        public var minimumRemaining: Int

        /// - Parameter minimumRemaining: The requests to leave each token, 0 or more.
        public init(minimumRemaining: Int) {
            self.minimumRemaining = minimumRemaining
        }
    }
}

/// An outbound HTTP proxy (`routes[].proxy`): `http://host:port`, nothing else. The host and port are all libcurl
/// needs; an https upstream is still tunnelled with `CONNECT`, so TLS runs end to end with the upstream.
public struct OutboundProxyURL: Sendable, Hashable, CustomStringConvertible {
    /// Host as written in a URL (IPv6 bracketed), lowercased.
    public let host: String
    public let port: Int

    /// Parses `http://host:port` (a trailing `/` allowed).
    /// - Returns: Why it is refused, or the proxy.
    static func parse(_ text: String) -> Result<OutboundProxyURL, ConfigReader.Refusal> {
        guard let (scheme, rest) = Origin.splitScheme(text) else {
            return .failure("\"\(text)\" is not a URL; expected http://host:port")
        }
        guard scheme == "http" else {
            return .failure(
                "\"\(text)\": only http:// proxies are supported (https upstreams still tunnel TLS through them)"
            )
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !authority.contains("@") else {
            return .failure(
                "\"\(text)\": user info is not supported (a proxy password would be a secret in the config)"
            )
        }
        guard !authority.contains(where: { "/?#\\ ".contains($0) || !$0.isASCII || $0.isNewline }) else {
            return .failure("\"\(text)\" must be http://host:port, with no path, query or fragment")
        }
        guard let (rawHost, rawPort) = Origin.splitHostPort(authority), let host = Origin.normalizedHost(rawHost) else {
            return .failure("\"\(text)\" has no valid host")
        }
        guard let rawPort else {
            return .failure("\"\(text)\" names no port (libcurl would guess 1080); write http://host:port")
        }
        guard let port = Origin.parsePort(rawPort), port > 0 else {
            return .failure("\"\(text)\" has no valid port (1-65535)")
        }
        return .success(OutboundProxyURL(host: host, port: port))
    }

    private init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `http://host:port`, as libcurl's `CURLOPT_PROXY` takes it.
    public var description: String { "http://\(self.host):\(self.port)" }
}

/// Reading `routes[].upstreamBudget` and `routes[].proxy`.
extension ConfigReader {
    /// A reason a value is refused, as the issue's message.
    struct Refusal: Error, ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
        var message: String

        init(stringLiteral message: String) {
            self.message = message
        }

        init(stringInterpolation: DefaultStringInterpolation) {
            self.message = String(stringInterpolation: stringInterpolation)
        }
    }

    mutating func readUpstreamBudget(_ value: JSONValue, at path: String) -> ProxyConfig.UpstreamBudgetSettings? {
        guard let object = self.object(value, at: path, known: ["minimumRemaining"]) else { return nil }
        guard let minimum = object["minimumRemaining"] else {
            self.fail("\(path).minimumRemaining", "missing: the requests to leave each token, e.g. 10")
            return nil
        }
        guard let number = self.number(minimum, at: "\(path).minimumRemaining", range: 0...1_000_000) else {
            return nil
        }
        guard number == number.rounded() else {
            self.fail("\(path).minimumRemaining", "expected a whole number of requests, found \(number)")
            return nil
        }
        return ProxyConfig.UpstreamBudgetSettings(minimumRemaining: Int(number))
    }

    mutating func readOutboundProxy(_ value: JSONValue, at path: String) -> OutboundProxyURL? {
        guard let text = self.string(value, at: path) else { return nil }
        switch OutboundProxyURL.parse(text) {
        case .success(let proxy):
            return proxy
        case .failure(let refusal):
            self.fail(path, refusal.message)
            return nil
        }
    }
}

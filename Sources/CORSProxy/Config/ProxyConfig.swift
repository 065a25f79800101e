/// The whole of `proxy.json`, checked: every value here is valid and normalised.
public struct ProxyConfig: Sendable {
    /// One `routes[]` entry: requests whose path starts with `prefix` go to `upstream`.
    public struct Route: Sendable {
        public var prefix: String
        public var upstream: UpstreamURL
        /// Remove `prefix` from the path before forwarding (the remainder keeps a leading `/`).
        public var stripPrefix: Bool
        /// Pass `Cookie` and `Set-Cookie` through; off by default so cookies of different upstreams never mix
        /// on the proxy's origin.
        public var forwardCookies: Bool
        /// Speak HTTP/2 to the (https) upstream and multiplex all requests on one connection.
        public var http2: Bool = false
        /// A PEM file of CA certificates to trust for this upstream instead of the system store.
        public var caFile: String?
        /// Failures to inject on this route's requests; the first rule that matches a request applies.
        public var faults: [FaultRule] = []
        /// Answer 429 locally once a token's upstream budget is down to its minimum; `nil`: no budget check.
        public var upstreamBudget: UpstreamBudgetSettings?
        /// The outbound HTTP proxy libcurl reaches this upstream through; `nil`: direct, whatever the environment
        /// says.
        public var proxy: OutboundProxyURL?
    }

    /// One `routes[].faults[]` rule: inject `fault` into a share `rate` of the requests it matches.
    public struct FaultRule: Sendable {
        public var fault: Fault
        /// The share of matching requests that get the fault, 0…1.
        public var rate: Double = 1
        /// Only requests with these methods (a preflight's is its `Access-Control-Request-Method`); all when nil.
        public var methods: [String]?
        /// Only requests from origins these patterns admit; all when nil.
        public var origins: [OriginPattern]?
    }

    /// The top-level `faults` object.
    public struct FaultSettings: Sendable {
        /// Honour `corsproxy-fault=KIND[:N]` in the query and `X-Corsproxy-Fault: KIND[:N]` (both removed before
        /// forwarding). Off: both are ignored and left alone.
        public var requestControl = false
        /// Makes `rate` sampling repeatable: the same seed and request sequence inject the same faults.
        public var seed: UInt64?
    }

    /// `cors.mode`.
    public enum CORSMode: String, Sendable {
        /// Refuse what the policy refuses.
        case enforce
        /// Serve every well-formed origin as if allowed, and report what enforcing would block.
        case reportOnly = "report-only"
    }

    /// What the proxy does with a request from an origin that no pattern admits.
    public enum DisallowedOrigin: String, Sendable {
        /// Answer 403 with a JSON body naming the origin and the fix.
        case reject
        /// Forward the request but add no CORS headers, so the browser fails as against an API that has not
        /// whitelisted the origin.
        case omitHeaders = "omit-headers"
    }

    /// The `cors` object.
    public struct CORS: Sendable {
        public var allowedOrigins: [OriginPattern] = []
        public var allowedMethods: [String] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        public var allowedHeaders: [String] = ["Authorization", "Content-Type", "Accept"]
        public var exposedHeaders: [String] = []
        public var allowCredentials = false
        /// Seconds a browser may cache a preflight answer.
        public var maxAge = 600
        public var allowPrivateNetwork = false
        public var disallowedOrigin = DisallowedOrigin.reject
        public var mode = CORSMode.enforce

        /// - Parameter allowedOrigins: The origin patterns; everything else keeps its default.
        public init(allowedOrigins: [OriginPattern] = []) {
            self.allowedOrigins = allowedOrigins
        }
    }

    /// The `timeouts` object (seconds in the file), as durations from the moment it is loaded.
    public struct Timeouts: Sendable {
        /// Time to establish the upstream connection (TCP and TLS).
        public var connect: Duration = .seconds(10)
        /// Time for a whole upstream exchange; `nil` (0 in the file) means no limit, so long downloads stay possible.
        public var total: Duration?
        /// Longest stall allowed: an upstream that sends nothing (no head, no body byte) for this long gets
        /// 504 or a closed connection, and so does a client that reads nothing of its response. `nil` (0 in the
        /// file) disables it.
        public var idle: Duration? = .seconds(60)
        /// Time a client has to send a complete request head, from connecting or from the end of its previous
        /// exchange; then the connection is closed (slow-loris and idle keep-alive connections).
        public var clientHeader: Duration = .seconds(30)
        /// On SIGTERM or SIGINT, how long requests in flight may take to finish before their connections are
        /// closed; the process then exits 0.
        public var drain: Duration = .seconds(25)
        /// On SIGTERM or SIGINT, how long the proxy goes on accepting and serving as before, `/readyz` already
        /// 503, before the drain: time for a load balancer's health check to take the instance out, so nothing
        /// it sends meanwhile meets a closed port or a closed connection. Zero: the drain begins at once.
        public var lameDuck: Duration = .zero
    }

    /// The `admin` object: a second listener for metrics, health, readiness, the config in force and the
    /// proxy's reports, kept off the port that serves proxied traffic.
    public struct Admin: Sendable {
        /// Where the admin listener binds; loopback is the sane choice (``lint()`` warns otherwise).
        public var listen: ListenAddress

        /// - Parameter listen: Where the admin listener binds; port 0 picks a free port.
        public init(listen: ListenAddress) {
            self.listen = listen
        }
    }

    /// The `tls` object: serve HTTPS on `listen` with this certificate and key.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate chain, leaf first; resolved against the config file's directory.
        public var certificate: String
        /// PEM file of the leaf certificate's private key; resolved against the config file's directory.
        public var privateKey: String

        /// - Parameters:
        ///   - certificate: PEM file of the certificate chain, leaf first.
        ///   - privateKey: PEM file of the leaf certificate's private key.
        public init(certificate: String, privateKey: String) {
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    /// How the access log writes its one line per exchange (`log.format`).
    public enum LogFormat: String, Sendable {
        /// For a person at a terminal: a short aligned line, and the reason and fix when the browser blocks.
        case text
        /// One JSON object per line, for log shipping.
        case json
    }

    /// The `log` object.
    public struct Log: Sendable {
        public var format = LogFormat.text
    }

    /// The `limits` object.
    public struct Limits: Sendable {
        /// Largest request head (request line and headers); larger gets 431.
        public var maxHeaderBytes = 64 * 1024
        /// Largest request body; larger gets 413. 0 means no limit.
        public var maxBodyBytes: Int64 = 0
        /// Most client connections open at once; the next wait in the kernel's backlog. 0 means no limit.
        public var maxConnections = 0
        /// A token bucket per key; `nil`: no rate limit.
        public var rateLimit: RateLimit?
    }

    public var listen = ListenAddress(host: "127.0.0.1", port: 8787)
    public var routes: [Route] = []
    public var cors = CORS()
    /// Host names (no port) a request's `Host` may name; others get 403 (DNS rebinding defence).
    public var allowedHosts: [String] = []
    public var timeouts = Timeouts()
    public var limits = Limits()
    public var faults = FaultSettings()
    public var log = Log()
    /// HTTPS on the listener; plain HTTP when nil.
    public var tls: TLS?
    /// Peers whose `X-Forwarded-For` (or `Forwarded`) is believed; see ``ForwardedChain``.
    public var trustedProxies: [CIDR] = []
    /// What the proxy adds upstream about the client.
    public var forwardedHeaders = ForwardedHeaders.xForwarded

    /// `https` with ``tls``, else `http`: the scheme clients reach the proxy by.
    public var scheme: String { self.tls == nil ? "http" : "https" }
    /// The admin listener; `nil` (the key absent) keeps it off, and the main port serves the proxy's own
    /// reports as before.
    public var admin: Admin?

    /// The `allowedHosts` in force: the configured list, or the listen host and the loopback names.
    public var effectiveAllowedHosts: Set<String> {
        if !self.allowedHosts.isEmpty { return Set(self.allowedHosts.map { $0.lowercased() }) }
        return [self.listen.urlHost.lowercased(), "localhost", "127.0.0.1", "[::1]"]
    }
}

/// An upstream base URL: `http(s)://host[:port][/base/path]`, without query, fragment or userinfo.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    /// Host as written in a URL (IPv6 bracketed), lowercased.
    public let host: String
    public let port: Int?
    /// A base path without trailing slash; empty for none.
    public let basePath: String
    /// `scheme://host[:port]`, the part a `Location` or `Link` URL must start with to point here.
    public let origin: String

    /// Parses an upstream URL; `nil` when it is not an absolute http(s) URL without query, fragment or userinfo.
    public init?(_ text: String) {
        guard let (scheme, rest) = Origin.splitScheme(text), scheme == "http" || scheme == "https" else { return nil }
        guard !rest.contains(where: { "?#@\\ ".contains($0) || !$0.isASCII || $0.isNewline }) else { return nil }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let (rawHost, rawPort) = Origin.splitHostPort(rest[..<slash]), let host = Origin.normalizedHost(rawHost)
        else { return nil }
        var port: Int?
        if let rawPort {
            guard let value = Origin.parsePort(rawPort), value > 0 else { return nil }
            port = value == Origin.defaultPort(for: scheme) ? nil : value
        }
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = path
        self.origin = port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
    }

    public var description: String { self.origin + self.basePath }
}

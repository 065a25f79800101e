internal import CurlBridge
public import FoundationEssentials
public import NIOHTTP1

/// Entry points for the libFuzzer targets in `Fuzz/`: each runs one input through production code and traps
/// when an invariant of the proxy breaks. Not API: reachable only with `@_spi(Fuzzing) import CORSProxy`.
@_spi(Fuzzing)
public enum FuzzingEntryPoints {
    /// First line: an origin pattern; the rest: an `Origin` header. A pattern must never admit an origin
    /// outside its own scheme, or outside its host (exact) or its domain (wildcard).
    public static func origin(_ text: String) {
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let header = parts.count > 1 ? String(parts[1]) : ""
        guard case .success(let pattern) = OriginPattern.parse(String(parts[0])) else { return }
        let policy = CORSPolicy(configuration: .init(allowedOrigins: [pattern]))
        guard case .allowed = policy.judge(origin: header) else { return }
        guard let origin = Origin(header) else {
            preconditionFailure("admitted a malformed origin: \(header.debugDescription)")
        }
        switch pattern.kind {
        case .exact(let allowed):
            precondition(allowed == origin, "\(pattern) admitted \(origin)")
        case .host(let scheme, let host, let isWildcard, _):
            precondition(origin.scheme == scheme, "\(pattern) admitted \(origin)")
            precondition(
                isWildcard ? origin.host.hasSuffix("." + host) : origin.host == host,
                "\(pattern) admitted \(origin)"
            )
        case .any, .regex:
            break
        }
    }

    /// Config JSON: parsing and linting never crash, and a config that parses is internally consistent.
    public static func config(_ data: Data) {
        guard let config = try? ProxyConfig.parse(data) else { return }
        _ = config.lint()
        precondition(!config.routes.isEmpty, "a config without routes was accepted")
        precondition(
            !(config.cors.allowCredentials && config.cors.allowedOrigins.contains(where: \.isAny)),
            "* with credentials accepted"
        )
    }

    /// A decoded request head against a fixed config: a forwarded request always goes to the configured upstream
    /// (the URL starts with the upstream base and a `/`), and the logged target never shows a token.
    public static func requestHead(_ head: HTTPRequestHead) {
        let plan = self.snapshot.plan(for: head, chain: ForwardedChain(peer: IPAddress("127.0.0.1")!))
        if case .forward(let route, let request) = plan.action {
            let base = route.upstream.description
            precondition(request.url.hasPrefix(base + "/"), "forwarded \(head.uri.debugDescription) to \(request.url)")
            precondition(!request.headers.contains { $0.name.lowercased() == "host" }, "forwarded the client's Host")
        }
        // Parsed as servers (and Redaction) do: the query ends at the first `#`, the fragment's `name=value`
        // pairs are checked too, and `=access_token=x` is a parameter with an empty name.
        let logged = Redaction.target(head.uri)
        let hash = logged.utf8.firstIndex(of: UInt8(ascii: "#"))
        let beforeHash = logged[..<(hash ?? logged.endIndex)]
        let query =
            beforeHash.utf8.firstIndex(of: UInt8(ascii: "?")).map { beforeHash[beforeHash.utf8.index(after: $0)...] }
            ?? ""
        let fragment = hash.map { logged[logged.utf8.index(after: $0)...] } ?? ""
        for pair in query.utf8.split(separator: UInt8(ascii: "&")) + fragment.utf8.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                .map { Substring($0) }
            if parts.count == 2, Redaction.secretParameters.contains(parts[0].lowercased()) {
                precondition(parts[1] == "REDACTED", "logged a secret: \(logged)")
            }
        }
    }

    static let snapshot: ConfigSnapshot = {
        let json = """
            {"routes": [{"prefix": "/", "upstream": "https://sandbox.procore.com"},
                        {"prefix": "/oauth/", "upstream": "https://login-sandbox.procore.com"},
                        {"prefix": "/files/", "upstream": "https://storage.example.com/bucket", "stripPrefix": true}],
             "cors": {"allowedOrigins": ["http://localhost:3000", "https://*.example.com", "http://127.0.0.1:*"],
                      "allowCredentials": true, "allowPrivateNetwork": true},
             "limits": {"maxBodyBytes": 1000000}}
            """
        return ConfigSnapshot(config: try! ProxyConfig.parse(Data(json.utf8)))
    }()
}

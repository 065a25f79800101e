/// What every connection handler of one server shares: the checked config and everything precomputed from it.
struct ProxyContext: Sendable {
    let config: ProxyConfig
    let policy: CORSPolicy
    let router: Router
    let allowedHosts: Set<String>
    /// The proxy's own scheme, for rewritten URLs and `X-Forwarded-Proto`.
    let scheme = "http"

    init(config: ProxyConfig) {
        self.config = config
        self.policy = CORSPolicy(configuration: config.cors)
        self.router = Router(routes: config.routes)
        self.allowedHosts = config.effectiveAllowedHosts
    }

    /// The host name part of a `Host` header, lowercased: `[::1]:8787` → `[::1]`, `Example.com:80` → `example.com`.
    static func hostName(_ host: String) -> String {
        let lower = host.lowercased()
        if lower.hasPrefix("["), let close = lower.firstIndex(of: "]") { return String(lower[...close]) }
        return String(lower.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0])
    }
}

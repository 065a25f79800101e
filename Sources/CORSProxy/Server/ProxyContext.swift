/// What every connection handler of one server shares: the checked config and everything precomputed from it.
struct ProxyContext: Sendable {
    let config: ProxyConfig
    let policy: CORSPolicy
    let router: Router
    let allowedHosts: Set<String>
    /// The proxy's own scheme, for rewritten URLs and `X-Forwarded-Proto`.
    let scheme = "http"
    /// `Vary` of a preflight answer: what the answer depends on.
    let preflightVary: String

    init(config: ProxyConfig) {
        self.config = config
        self.policy = CORSPolicy(configuration: config.cors)
        self.router = Router(routes: config.routes)
        self.allowedHosts = config.effectiveAllowedHosts
        var vary = ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]
        if config.cors.allowPrivateNetwork { vary.append("Access-Control-Request-Private-Network") }
        self.preflightVary = vary.joined(separator: ", ")
    }

    /// The host name part of a `Host` header, lowercased: `[::1]:8787` → `[::1]`, `Example.com:80` → `example.com`;
    /// `nil` unless what follows the name is nothing or `:` and a decimal port.
    static func hostName(_ host: String) -> String? {
        let bytes = Substring(host).utf8
        var nameEnd = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            nameEnd = bytes.index(after: close)
        }
        let port = bytes[nameEnd...].dropFirst()
        guard nameEnd == bytes.endIndex
            || (bytes[nameEnd] == UInt8(ascii: ":") && (1...5).contains(port.count) && ASCII.isDecimal(port))
        else { return nil }
        return String(decoding: bytes[..<nameEnd].map(ASCII.lowercased), as: UTF8.self)
    }
}

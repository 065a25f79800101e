/// Picks the route for a request path: the longest matching `prefix` wins.
struct Router: Sendable {
    let routes: [ProxyConfig.Route]
    /// `scheme://host[:port]` of every upstream, for the rewrite fast path.
    private let upstreamOrigins: [String]

    init(routes: [ProxyConfig.Route]) {
        self.routes = routes.sorted { $0.prefix.count > $1.prefix.count }
        self.upstreamOrigins = Array(Set(routes.map(\.upstream.origin)))
    }

    /// The route for `path` (the request target without its query).
    func route(for path: Substring) -> ProxyConfig.Route? {
        self.routes.first { path.hasPrefix($0.prefix) }
    }

    /// The upstream URL for an origin-form request target, query string byte for byte.
    static func upstreamURL(route: ProxyConfig.Route, path: Substring, query: Substring?) -> String {
        var forwardedPath = path
        if route.stripPrefix {
            forwardedPath = path.dropFirst(route.prefix.count)
            if !forwardedPath.hasPrefix("/") { forwardedPath = "/" + forwardedPath }
        }
        var url = route.upstream.origin + route.upstream.basePath + forwardedPath
        if let query { url += "?" + query }
        return url
    }

    /// Maps an absolute URL on one of the upstreams back to the proxy, when the proxy would route the result to
    /// that same upstream; otherwise returns it unchanged. Used for `Location` and `Link`.
    func rewrite(_ url: Substring, proxyBase: String) -> String {
        guard let (origin, pathAndRest) = self.upstreamOrigin(of: url) else { return String(url) }
        for route in self.routes where route.upstream.origin == origin {
            guard pathAndRest.hasPrefix(route.upstream.basePath) else { continue }
            let rest = pathAndRest.dropFirst(route.upstream.basePath.count)
            guard rest.isEmpty || "/?#".contains(rest.first!) else { continue }
            var path = rest.prefix { $0 != "?" && $0 != "#" }
            if path.isEmpty { path = "/" }
            let suffix = rest.dropFirst(rest.prefix { $0 != "?" && $0 != "#" }.count)
            var proxyPath = String(path)
            if route.stripPrefix {
                var prefix = route.prefix
                if prefix.hasSuffix("/") { prefix.removeLast() }
                proxyPath = prefix + proxyPath
            }
            guard self.route(for: Substring(proxyPath))?.prefix == route.prefix else { continue }
            return proxyBase + proxyPath + suffix
        }
        return String(url)
    }

    /// The normalised origin of `url` and what follows it, when the URL is on one of the upstreams' hosts.
    private func upstreamOrigin(of url: Substring) -> (origin: String, rest: Substring)? {
        // Fast path: upstreams write their own URLs in the canonical form the config holds.
        for origin in self.upstreamOrigins where url.hasPrefix(origin) {
            let rest = url.dropFirst(origin.count)
            if rest.isEmpty || "/?#".contains(rest.first!) { return (origin, rest) }
        }
        // Otherwise compare origins normalised (case, default port); paths stay case-sensitive.
        let lowered = url.lowercased()
        guard self.upstreamOrigins.contains(where: { lowered.contains($0.drop { $0 != "/" }) }),
            let (scheme, afterScheme) = Origin.splitScheme(String(url))
        else { return nil }
        let authorityEnd = afterScheme.firstIndex { "/?#".contains($0) } ?? afterScheme.endIndex
        guard let origin = UpstreamURL("\(scheme)://\(afterScheme[..<authorityEnd])")?.origin else { return nil }
        return (origin, afterScheme[authorityEnd...])
    }

    /// Rewrites every `<URL>` of a `Link` header value (RFC 8288).
    func rewriteLink(_ value: String, proxyBase: String) -> String {
        var result = ""
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            result += rest[...open]
            result += self.rewrite(rest[rest.index(after: open)..<close], proxyBase: proxyBase)
            result += ">"
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }
}

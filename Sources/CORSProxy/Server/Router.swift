/// Picks the route for a request path: the longest matching `prefix` wins.
struct Router: Sendable {
    let routes: [ProxyConfig.Route]

    init(routes: [ProxyConfig.Route]) {
        self.routes = routes.sorted { $0.prefix.count > $1.prefix.count }
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
        // Compare origins normalised (case, default port); paths stay case-sensitive.
        guard let (scheme, afterScheme) = Origin.splitScheme(String(url)) else { return String(url) }
        let authorityEnd = afterScheme.firstIndex { "/?#".contains($0) } ?? afterScheme.endIndex
        guard let origin = UpstreamURL("\(scheme)://\(afterScheme[..<authorityEnd])")?.origin else { return String(url) }
        let pathAndRest = afterScheme[authorityEnd...]
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

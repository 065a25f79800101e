/// Picks the route for a request path: the longest matching `prefix` wins.
struct Router: Sendable {
    let routes: [ProxyConfig.Route]
    /// `scheme://host[:port]` of every upstream, for the rewrite fast path.
    private let upstreamOrigins: [String]

    init(routes: [ProxyConfig.Route]) {
        self.routes = routes.sorted { $0.prefix.count > $1.prefix.count }
        self.upstreamOrigins = Array(Set(routes.map(\.upstream.origin)))
    }

    /// The route for `path` (the request target without its query). Prefixes compare byte for byte.
    func route(for path: Substring) -> ProxyConfig.Route? {
        self.routes.first { ASCII.hasPrefix(path.utf8, $0.prefix.utf8) }
    }

    /// The upstream URL for an origin-form request target, query string byte for byte.
    static func upstreamURL(route: ProxyConfig.Route, path: Substring, query: Substring?) -> String {
        var forwardedPath = path
        if route.stripPrefix {
            forwardedPath = path.droppingUTF8(route.prefix.utf8.count)
            if forwardedPath.utf8.first != UInt8(ascii: "/") { forwardedPath = "/" + forwardedPath }
        }
        var url = route.upstream.origin
        url.reserveCapacity(
            url.utf8.count + route.upstream.basePath.utf8.count + path.utf8.count + (query?.utf8.count ?? 0) + 2
        )
        url += route.upstream.basePath
        url += forwardedPath
        if let query {
            url += "?"
            url += query
        }
        return url
    }

    /// Maps an absolute URL on one of the upstreams back to the proxy, when the proxy would route the result to
    /// that same upstream; otherwise returns it unchanged. Used for `Location` and `Link`.
    func rewrite(_ url: Substring, proxyBase: String) -> String {
        guard let (origin, pathAndRest) = self.upstreamOrigin(of: url) else { return String(url) }
        // Routes are read in place (`routes[index].…`): copying a whole `Route` per candidate cost more than the
        // rewrite itself.
        for index in self.routes.indices where self.routes[index].upstream.origin == origin {
            let basePath = self.routes[index].upstream.basePath
            guard ASCII.hasPrefix(pathAndRest.utf8, basePath.utf8) else { continue }
            let rest = pathAndRest.droppingUTF8(basePath.utf8.count)
            guard rest.isEmpty || Self.startsPathEnd(rest) else { continue }
            let pathLength =
                ASCII.firstOffset(in: rest.utf8) { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }
                ?? rest.utf8.count
            let path = pathLength == 0 ? "/" : rest.prefixUTF8(pathLength)
            let suffix = rest.droppingUTF8(pathLength)
            let prefix = self.routes[index].prefix
            var proxyPath = path
            if self.routes[index].stripPrefix {
                proxyPath = (prefix.utf8.last == UInt8(ascii: "/") ? prefix.dropLast() : prefix[...]) + path
            }
            guard let matched = self.routes.firstIndex(where: { ASCII.hasPrefix(proxyPath.utf8, $0.prefix.utf8) }),
                self.routes[matched].prefix == prefix
            else { continue }
            var result = proxyBase
            result.reserveCapacity(proxyBase.utf8.count + proxyPath.utf8.count + suffix.utf8.count)
            result += proxyPath
            result += suffix
            return result
        }
        return String(url)
    }

    /// Whether `text` starts with `/`, `?` or `#`: the end of a URL's authority.
    private static func startsPathEnd(_ text: Substring) -> Bool {
        guard let first = text.utf8.first else { return false }
        return first == UInt8(ascii: "/") || first == UInt8(ascii: "?") || first == UInt8(ascii: "#")
    }

    /// The normalised origin of `url` and what follows it, when the URL is on one of the upstreams' hosts.
    private func upstreamOrigin(of url: Substring) -> (origin: String, rest: Substring)? {
        // Fast path: upstreams write their own URLs in the canonical form the config holds.
        for origin in self.upstreamOrigins where ASCII.hasPrefix(url.utf8, origin.utf8) {
            let rest = url.droppingUTF8(origin.utf8.count)
            if rest.isEmpty || Self.startsPathEnd(rest) { return (origin, rest) }
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
        let utf8 = value.utf8
        var result = ""
        result.reserveCapacity(utf8.count + 64)
        var position = 0
        while let open = ASCII.firstOffset(of: UInt8(ascii: "<"), in: value, from: position),
            let close = ASCII.firstOffset(of: UInt8(ascii: ">"), in: value, from: open + 1)
        {
            let urlStart = utf8.index(utf8.startIndex, offsetBy: open + 1)
            result += value[utf8.index(utf8.startIndex, offsetBy: position)..<urlStart]
            result += self.rewrite(value[urlStart..<utf8.index(utf8.startIndex, offsetBy: close)], proxyBase: proxyBase)
            result += ">"
            position = close + 1
        }
        result += value[utf8.index(utf8.startIndex, offsetBy: position)...]
        return result
    }
}

extension Substring {
    /// The substring without its first `count` UTF-8 bytes (which end on a character boundary: ASCII).
    func droppingUTF8(_ count: Int) -> Substring {
        self[self.utf8.index(self.startIndex, offsetBy: count)...]
    }

    /// The first `count` UTF-8 bytes (which end on a character boundary: ASCII).
    func prefixUTF8(_ count: Int) -> Substring {
        self[..<self.utf8.index(self.startIndex, offsetBy: count)]
    }
}

internal import NIOCore

/// Picks the route for a request path: the longest matching `prefix` wins.
struct Router: Sendable {
    let routes: [ProxyConfig.Route]
    /// `scheme://host[:port]` of every upstream, as bytes, each once.
    private let upstreamOrigins: [[UInt8]]
    /// What the rewrite reads of each route, in `routes`' order, as bytes.
    private let targets: [RewriteTarget]

    private struct RewriteTarget {
        /// The route's upstream, in `upstreamOrigins`.
        let originIndex: Int
        let basePath: [UInt8]
        let prefix: [UInt8]
        let stripPrefix: Bool
    }

    init(routes: [ProxyConfig.Route]) {
        self.routes = routes.sorted { $0.prefix.count > $1.prefix.count }
        var origins: [String] = []
        var targets: [RewriteTarget] = []
        for route in self.routes {
            let originIndex = origins.firstIndex(of: route.upstream.origin) ?? origins.count
            if originIndex == origins.count { origins.append(route.upstream.origin) }
            targets.append(
                RewriteTarget(
                    originIndex: originIndex,
                    basePath: Array(route.upstream.basePath.utf8),
                    prefix: Array(route.prefix.utf8),
                    stripPrefix: route.stripPrefix
                )
            )
        }
        self.upstreamOrigins = origins.map { Array($0.utf8) }
        self.targets = targets
    }

    /// The route for `path` (the request target without its query). Prefixes compare byte for byte.
    func route(for path: Substring) -> ProxyConfig.Route? {
        self.routeIndex(for: path.utf8).map { self.routes[$0] }
    }

    /// The index in `routes` of the first, so longest, prefix of `path`: the one rule for which route a path takes,
    /// for requests and for the rewrite's check of where a mapped URL would go.
    private func routeIndex(for path: some Collection<UInt8>) -> Int? {
        self.targets.firstIndex { ASCII.hasPrefix(path, $0.prefix) }
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

    /// Writes `url` into `out`, mapped back to the proxy when it is an absolute URL on one of the upstreams and the
    /// proxy would route the result to that same upstream; unchanged otherwise. Used for `Location` and `Link`.
    /// Over bytes, into the response head itself: this runs for every rewritten header of every response.
    func writeRewritten(_ url: UnsafeRawBufferPointer, proxyBase: ProxyBase?, into out: inout ByteBuffer) {
        guard let (originIndex, restStart) = self.upstreamOrigin(of: url) else {
            out.writeBytes(url)
            return
        }
        for (index, target) in self.targets.enumerated() where target.originIndex == originIndex {
            guard ASCII.hasPrefix(url[restStart...], target.basePath) else { continue }
            let pathStart = restStart + target.basePath.count
            guard pathStart == url.count || Self.isPathEnd(url[pathStart]) else { continue }
            let pathEnd =
                url[pathStart...].firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? url.count
            // The proxy's path goes into `out` first, and is taken back if the proxy would route it elsewhere.
            let mark = out.writerIndex
            proxyBase?.write(into: &out)
            let proxyPathStart = out.writerIndex
            if target.stripPrefix {
                out.writeBytes(target.prefix.last == UInt8(ascii: "/") ? target.prefix.dropLast() : target.prefix[...])
            }
            if pathEnd == pathStart {
                out.writeInteger(UInt8(ascii: "/"))
            } else {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: url[pathStart..<pathEnd]))
            }
            let routed = out.withUnsafeReadableBytes { written in
                self.routeIndex(for: written[(proxyPathStart - out.readerIndex)...])
            }
            guard routed == index else {
                out.moveWriterIndex(to: mark)
                continue
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: url[pathEnd...]))
            return
        }
        out.writeBytes(url)
    }

    /// Writes a `Link` header value (RFC 8288) into `out` with every `<URL>` in it rewritten.
    func writeRewrittenLink(_ value: UnsafeRawBufferPointer, proxyBase: ProxyBase?, into out: inout ByteBuffer) {
        var position = 0
        while let open = ASCII.firstOffset(of: UInt8(ascii: "<"), in: value, from: position),
            let close = ASCII.firstOffset(of: UInt8(ascii: ">"), in: value, from: open + 1)
        {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: value[position...open]))
            self.writeRewritten(
                UnsafeRawBufferPointer(rebasing: value[(open + 1)..<close]),
                proxyBase: proxyBase,
                into: &out
            )
            out.writeInteger(UInt8(ascii: ">"))
            position = close + 1
        }
        out.writeBytes(UnsafeRawBufferPointer(rebasing: value[position...]))
    }

    /// Whether `byte` is `/`, `?` or `#`: the end of a URL's authority.
    private static func isPathEnd(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#")
    }

    /// Which of `upstreamOrigins` `url` is on, and where what follows the origin starts.
    private func upstreamOrigin(of url: UnsafeRawBufferPointer) -> (originIndex: Int, restStart: Int)? {
        // Fast path: upstreams write their own URLs in the canonical form the config holds.
        for (index, origin) in self.upstreamOrigins.enumerated() where ASCII.hasPrefix(url, origin) {
            if origin.count == url.count || Self.isPathEnd(url[origin.count]) { return (index, origin.count) }
        }
        // Otherwise compare origins normalised (case, default port); paths stay case-sensitive.
        let text = String(decoding: url, as: UTF8.self)
        let lowered = text.lowercased()
        guard
            self.upstreamOrigins.contains(where: { origin in
                lowered.contains(String(decoding: origin.drop { $0 != UInt8(ascii: "/") }, as: UTF8.self))
            }),
            let (scheme, afterScheme) = Origin.splitScheme(text)
        else { return nil }
        let authorityEnd = afterScheme.firstIndex { "/?#".contains($0) } ?? afterScheme.endIndex
        guard let origin = UpstreamURL("\(scheme)://\(afterScheme[..<authorityEnd])")?.origin,
            let index = self.upstreamOrigins.firstIndex(where: { $0.elementsEqual(origin.utf8) })
        else { return nil }
        return (index, url.count - afterScheme[authorityEnd...].utf8.count)
    }
}

extension Substring {
    /// The substring without its first `count` UTF-8 bytes (which end on a character boundary: ASCII).
    func droppingUTF8(_ count: Int) -> Substring {
        self[self.utf8.index(self.startIndex, offsetBy: count)...]
    }
}

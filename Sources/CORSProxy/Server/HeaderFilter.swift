internal import NIOHTTP1

/// Which headers cross the proxy, in each direction.
///
/// Hop-by-hop headers (RFC 9110 §7.6.1) and the names a `Connection` header lists stay on their hop. Framing
/// headers are rebuilt: libcurl frames the upstream request from the body description, NIO frames the response.
/// Upstream `Access-Control-*` headers are dropped, never merged: the proxy's policy is the only CORS source, and a
/// duplicated `Access-Control-Allow-Origin` fails in browsers.
enum HeaderFilter {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade",
    ]

    /// Names listed in `Connection` header values, lowercased: those headers are hop-by-hop too.
    static func connectionTokens(_ values: [String]) -> Set<String> {
        Set(values.flatMap { $0.split(separator: ",") }.map { String($0).trimmingOWS().lowercased() })
    }

    /// The headers to send upstream.
    /// - Parameters:
    ///   - headers: The client's request headers.
    ///   - forwardCookies: Whether the route passes `Cookie` on.
    ///   - clientAddress: The client's IP, appended to `X-Forwarded-For`.
    ///   - scheme: `http` or `https`, the proxy's own scheme, for `X-Forwarded-Proto`.
    static func requestHeaders(
        _ headers: HTTPHeaders,
        forwardCookies: Bool,
        clientAddress: String?,
        scheme: String
    ) -> [(name: String, value: String)] {
        let listed = self.connectionTokens(headers["connection"])
        var result: [(name: String, value: String)] = []
        result.reserveCapacity(headers.count + 3)
        var forwardedFor: String?
        for (name, value) in headers {
            let lower = name.lowercased()
            if self.hopByHop.contains(lower) || listed.contains(lower) { continue }
            switch lower {
            case "host", "content-length", "expect", "origin":
                continue
            case "cookie" where !forwardCookies:
                continue
            case "x-forwarded-for":
                forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
                continue
            case "x-forwarded-proto", "x-forwarded-host":
                continue
            default:
                result.append((name, value))
            }
        }
        if let clientAddress {
            result.append(("X-Forwarded-For", forwardedFor.map { "\($0), \(clientAddress)" } ?? clientAddress))
        }
        result.append(("X-Forwarded-Proto", scheme))
        if let host = headers.first(name: "host") {
            result.append(("X-Forwarded-Host", host))
        }
        return result
    }

    /// The upstream response headers a client may see, before the proxy adds its own CORS headers.
    /// - Returns: The kept headers and the upstream's `Vary` values, for merging.
    static func responseHeaders(
        _ headers: [(name: String, value: String)],
        forwardCookies: Bool,
        rewrite: (_ name: String, _ value: String) -> String
    ) -> (headers: HTTPHeaders, vary: [String]) {
        let listed = self.connectionTokens(headers.filter { $0.name.lowercased() == "connection" }.map(\.value))
        var result = HTTPHeaders()
        var vary: [String] = []
        for (name, value) in headers {
            let lower = name.lowercased()
            if self.hopByHop.contains(lower) || listed.contains(lower) || lower.hasPrefix("access-control-") {
                continue
            }
            switch lower {
            case "set-cookie" where !forwardCookies:
                continue
            case "vary":
                vary += value.split(separator: ",").map { String($0).trimmingOWS() }.filter { !$0.isEmpty }
            case "location", "content-location", "link":
                result.add(name: name, value: rewrite(lower, value))
            default:
                result.add(name: name, value: value)
            }
        }
        return (result, vary)
    }

    /// `Vary` with `extra` added once each, keeping the upstream's values and order (`*` stays alone).
    static func mergeVary(_ upstream: [String], adding extra: [String]) -> String {
        if upstream.contains("*") { return "*" }
        var values = upstream
        for name in extra where !values.contains(where: { $0.lowercased() == name.lowercased() }) {
            values.append(name)
        }
        return values.joined(separator: ", ")
    }
}

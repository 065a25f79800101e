import NIOCore
import NIOHTTP1
import Testing

@testable import CORSProxy
@testable import CurlBridge

/// ``HeaderFilter`` on its own: which headers cross the proxy in each direction, with no sockets.
@Suite("HeaderFilter")
struct HeaderFilterTests {
    // MARK: Request headers

    /// `requestHeaders` on `headers`, as `name: value` lines.
    static func upstream(
        _ headers: [(String, String)],
        forwardCookies: Bool = false,
        hops: [String]? = ["192.0.2.7"],
        style: ProxyConfig.ForwardedHeaders = .xForwarded,
        scheme: String = "http",
        clientScheme: ForwardedChain.Scheme? = nil
    ) -> [String] {
        HeaderFilter.requestHeaders(
            HTTPHeaders(headers),
            forwardCookies: forwardCookies,
            chain: hops.map { ForwardedChain(hops: $0.map { IPAddress($0)! }, scheme: clientScheme) },
            style: style,
            scheme: scheme
        ).map { "\($0.name): \($0.value)" }
    }

    @Test("hop-by-hop and framing headers stay on the client's hop; the rest goes upstream in order")
    func requestHopByHop() {
        let sent = Self.upstream([
            ("Accept", "application/json"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic eHg="),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Content-Length", "5"),
            ("Expect", "100-continue"),
            ("Authorization", "Bearer t"),
            ("Content-Type", "text/plain"),
            ("X-Custom", "1"),
        ])
        #expect(
            sent == [
                "Accept: application/json", "Authorization: Bearer t", "Content-Type: text/plain", "X-Custom: 1",
                "X-Forwarded-For: 192.0.2.7", "X-Forwarded-Proto: http",
            ]
        )
    }

    @Test("names a Connection header lists are dropped, whatever their case, from every Connection header")
    func requestConnectionListed() {
        let sent = Self.upstream([
            ("Connection", "close, X-Hop-One"),
            ("X-Hop-One", "1"),
            ("x-hop-two", "2"),
            ("Connection", " x-HOP-two ,, keep-alive"),
            ("X-Kept", "3"),
        ])
        #expect(sent == ["X-Kept: 3", "X-Forwarded-For: 192.0.2.7", "X-Forwarded-Proto: http"])
    }

    @Test("Connection cannot drop the proxy's own X-Forwarded headers")
    func requestConnectionListsForwarded() {
        let sent = Self.upstream(
            [
                ("Host", "proxy.example:8787"),
                ("X-Forwarded-For", "198.51.100.1"),
                ("Connection", "X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host"),
            ],
            scheme: "https"
        )
        #expect(
            sent == [
                "X-Forwarded-For: 192.0.2.7", "X-Forwarded-Proto: https", "X-Forwarded-Host: proxy.example:8787",
            ]
        )
    }

    @Test("Cookie goes upstream only when the route forwards cookies")
    func requestCookies() {
        let headers = [("Cookie", "a=1"), ("X-A", "1"), ("cookie", "b=2")]
        #expect(Self.upstream(headers, forwardCookies: false).filter { $0.lowercased().hasPrefix("cookie") }.isEmpty)
        #expect(Self.upstream(headers, forwardCookies: true).prefix(3) == ["Cookie: a=1", "X-A: 1", "cookie: b=2"])
    }

    @Test(
        "X-Forwarded-For is the proxy's chain, never the client's own X-Forwarded-For or Forwarded",
        arguments: [
            ([], "192.0.2.7"),
            (["198.51.100.1"], "192.0.2.7"),
            (["198.51.100.1, 203.0.113.9", "203.0.113.10"], "192.0.2.7"),
        ]
    )
    func requestForwardedFor(chain: [String], expected: String) {
        let sent = Self.upstream(chain.map { ("X-Forwarded-For", $0) } + [("Forwarded", "for=6.6.6.6")])
        #expect(sent == ["X-Forwarded-For: \(expected)", "X-Forwarded-Proto: http"])
    }

    @Test("a trusted chain goes upstream client first, the socket peer last")
    func requestForwardedForTrustedChain() {
        let sent = Self.upstream([], hops: ["198.51.100.7", "10.2.3.4", "fd00::9", "10.0.0.1"])
        #expect(sent.first == "X-Forwarded-For: 198.51.100.7, 10.2.3.4, fd00::9, 10.0.0.1")
    }

    @Test("forwardedHeaders \"forwarded\": one RFC 7239 element per hop, IPv6 quoted, proto and host on the last")
    func requestForwardedStyle() {
        let headers = [("Host", "proxy.example:8787"), ("X-Forwarded-For", "6.6.6.6"), ("Forwarded", "for=6.6.6.6")]
        let sent = Self.upstream(headers, hops: ["198.51.100.7", "::1"], style: .forwarded, scheme: "https")
        #expect(sent == [#"Forwarded: for=198.51.100.7, for="[::1]";proto=https;host="proxy.example:8787""#])
        let plain = Self.upstream([("Host", "localhost")], style: .forwarded)
        #expect(plain == ["Forwarded: for=192.0.2.7;proto=http;host=localhost"])
    }

    @Test("the client's scheme a trusted proxy reported: X-Forwarded-Proto says it; Forwarded, on the client's element")
    func requestClientScheme() {
        let hops = ["198.51.100.7", "10.0.0.1"]
        let headers = [("Host", "gw.example"), ("X-Forwarded-Proto", "http")]
        #expect(
            Self.upstream(headers, hops: hops, clientScheme: .https) == [
                "X-Forwarded-For: 198.51.100.7, 10.0.0.1", "X-Forwarded-Proto: https", "X-Forwarded-Host: gw.example",
            ]
        )
        let forwarded = Self.upstream(headers, hops: hops, style: .forwarded, clientScheme: .https)
        #expect(forwarded == ["Forwarded: for=198.51.100.7;proto=https, for=10.0.0.1;proto=http;host=gw.example"])
        let alone = Self.upstream(headers, hops: ["10.0.0.1"], style: .forwarded, clientScheme: .https)
        #expect(alone == ["Forwarded: for=10.0.0.1;proto=http;host=gw.example"], "one hop: the proxy's own element")
    }

    @Test("forwardedHeaders \"none\": no forwarding header of either family goes upstream")
    func requestNoForwarding() {
        let headers = [
            ("Host", "localhost"), ("X-Forwarded-For", "6.6.6.6"), ("Forwarded", "for=6.6.6.6"),
            ("X-Forwarded-Proto", "https"), ("X-A", "1"),
        ]
        #expect(Self.upstream(headers, style: .none) == ["X-A: 1"])
    }

    @Test("no X-Forwarded-For at all when the client's address is unknown")
    func requestForwardedForNoAddress() {
        let sent = Self.upstream([("X-Forwarded-For", "198.51.100.1")], hops: nil)
        #expect(sent == ["X-Forwarded-Proto: http"])
    }

    @Test("X-Forwarded-Proto and X-Forwarded-Host are the proxy's, never the client's; Host itself is not sent")
    func requestForwardedProtoHost() {
        let sent = Self.upstream(
            [
                ("X-Forwarded-Proto", "https"),
                ("Host", "first.example"),
                ("X-Forwarded-Host", "evil.example"),
                ("Host", "second.example"),
            ],
            scheme: "http"
        )
        #expect(
            sent == ["X-Forwarded-For: 192.0.2.7", "X-Forwarded-Proto: http", "X-Forwarded-Host: first.example"]
        )
        let noHost = Self.upstream([("Accept", "*/*")])
        #expect(!noHost.contains { $0.hasPrefix("X-Forwarded-Host") }, "no Host, no X-Forwarded-Host")
    }

    @Test("Origin never goes upstream: the proxy answers for CORS")
    func requestOrigin() {
        let sent = Self.upstream([("Origin", "http://localhost:3000"), ("origin", "http://x.example"), ("X-A", "1")])
        #expect(sent == ["X-A: 1", "X-Forwarded-For: 192.0.2.7", "X-Forwarded-Proto: http"])
    }

    // MARK: Response headers

    /// An upstream head with `headers`, laid out as ``ResponseHeadParser`` lays it out.
    static func head(_ headers: [(String, String)]) -> TransferResponseHead {
        var lines = ByteBuffer()
        var fields: [TransferResponseHead.Field] = []
        for (name, value) in headers {
            let nameStart = lines.writerIndex
            lines.writeString(name)
            let nameEnd = lines.writerIndex
            lines.writeString(": ")
            let valueStart = lines.writerIndex
            lines.writeString(value)
            fields.append(.init(name: nameStart..<nameEnd, value: valueStart..<lines.writerIndex))
            lines.writeString("\r\n")
        }
        return TransferResponseHead(status: 200, reason: "OK", lines: lines, fields: fields)
    }

    /// What `writeResponseHeaders` wrote and found; `rewrite` marks the values it maps, and records its calls.
    static func client(
        _ headers: [(String, String)],
        forwardCookies: Bool = false,
        dropsContentLength: Bool = false
    ) -> (text: String, found: HeaderFilter.Response, rewritten: [String]) {
        var out = ByteBuffer()
        var rewritten: [String] = []
        let found = HeaderFilter.writeResponseHeaders(
            Self.head(headers),
            into: &out,
            forwardCookies: forwardCookies,
            dropsContentLength: dropsContentLength
        ) { kind, bytes, out in
            let value = String(decoding: bytes, as: UTF8.self)
            let name =
                switch kind {
                case .location: "location"
                case .contentLocation: "content-location"
                case .link: "link"
                default: "other"
                }
            rewritten.append("\(name) \(value)")
            out.writeString("rewritten(\(value))")
        }
        return (String(buffer: out), found, rewritten)
    }

    @Test("Access-Control-* from the upstream is dropped, never merged; other headers are copied byte for byte")
    func responseAccessControl() {
        let result = Self.client([
            ("Access-Control-Allow-Origin", "*"),
            ("content-TYPE", "text/plain;  charset=utf-8"),
            ("access-control-allow-credentials", "true"),
            ("ACCESS-CONTROL-EXPOSE-HEADERS", "X-Secret"),
            ("Access-Control-Max-Age", "86400"),
            ("X-Access-Control-Note", "kept"),
            ("ETag", "\"v1\""),
        ])
        #expect(
            result.text == "content-TYPE: text/plain;  charset=utf-8\r\nX-Access-Control-Note: kept\r\nETag: \"v1\"\r\n"
        )
    }

    @Test("hop-by-hop headers, Connection and the names it lists stay on the upstream's hop")
    func responseHopByHop() {
        let result = Self.client([
            ("Connection", "keep-alive, X-Hop"),
            ("Keep-Alive", "timeout=5"),
            ("X-Hop", "1"),
            ("Upgrade", "h2c"),
            ("Proxy-Authenticate", "Basic"),
            ("Trailer", "X-Checksum"),
            ("Transfer-Encoding", "chunked"),
            ("connection", "x-other-hop"),
            ("X-Other-Hop", "2"),
            ("X-Kept", "3"),
        ])
        #expect(result.text == "X-Kept: 3\r\n")
    }

    @Test("Set-Cookie reaches the client only when the route forwards cookies")
    func responseSetCookie() {
        let headers = [("Set-Cookie", "a=1; Path=/"), ("X-A", "1"), ("set-cookie", "b=2")]
        #expect(Self.client(headers, forwardCookies: false).text == "X-A: 1\r\n")
        let forwarded = Self.client(headers, forwardCookies: true).text
        #expect(forwarded == "Set-Cookie: a=1; Path=/\r\nX-A: 1\r\nset-cookie: b=2\r\n")
    }

    @Test("Content-Length is passed on and its distinct values reported; with no body, dropped but still reported")
    func responseContentLength() {
        let one = Self.client([("Content-Length", "5"), ("content-length", "5")])
        #expect(one.text == "Content-Length: 5\r\ncontent-length: 5\r\n")
        #expect(one.found.contentLengths == ["5"])
        let conflicting = Self.client([("Content-Length", "5"), ("Content-Length", "7"), ("Content-Length", "x")])
        #expect(conflicting.found.contentLengths == ["5", "7", "x"])
        let noBody = Self.client([("Content-Length", "5"), ("X-A", "1")], dropsContentLength: true)
        #expect(noBody.text == "X-A: 1\r\n")
        #expect(noBody.found.contentLengths == ["5"])
    }

    @Test(
        "with Transfer-Encoding, before or after it, Content-Length is neither passed on nor reported",
        arguments: [
            [("Content-Length", "5"), ("Transfer-Encoding", "chunked"), ("X-A", "1")],
            [("Transfer-Encoding", "chunked"), ("Content-Length", "5"), ("X-A", "1")],
            [("Content-Length", "5"), ("X-A", "1"), ("transfer-encoding", "gzip, chunked")],
        ]
    )
    func responseContentLengthWithTransferEncoding(headers: [(String, String)]) {
        let result = Self.client(headers)
        #expect(result.text == "X-A: 1\r\n")
        #expect(result.found.contentLengths.isEmpty)
    }

    @Test("Vary is collected, every list element of every Vary header, and left for the caller to merge")
    func responseVary() {
        let result = Self.client([("Vary", "Accept-Encoding,  Accept-Language"), ("X-A", "1"), ("vary", " Cookie ,")])
        #expect(result.text == "X-A: 1\r\n")
        #expect(result.found.vary == ["Accept-Encoding", "Accept-Language", "Cookie"])
        #expect(Self.client([("X-A", "1")]).found.vary.isEmpty)
    }

    @Test("Location, Content-Location and Link values go through the rewrite; nothing else does")
    func responseRewrite() {
        let result = Self.client([
            ("Location", "https://api.example/a"),
            ("X-Location", "https://api.example/b"),
            ("content-location", "/c"),
            ("Link", "<https://api.example/d>; rel=next"),
            ("Refresh", "0; url=https://api.example/e"),
        ])
        #expect(
            result.rewritten == [
                "location https://api.example/a", "content-location /c", "link <https://api.example/d>; rel=next",
            ]
        )
        #expect(
            result.text == "Location: rewritten(https://api.example/a)\r\nX-Location: https://api.example/b\r\n"
                + "content-location: rewritten(/c)\r\nLink: rewritten(<https://api.example/d>; rel=next)\r\n"
                + "Refresh: 0; url=https://api.example/e\r\n"
        )
    }

    @Test("an empty head writes nothing and finds nothing")
    func responseEmpty() {
        let result = Self.client([])
        #expect(result.text.isEmpty)
        #expect(result.found.vary.isEmpty)
        #expect(result.found.contentLengths.isEmpty)
    }
}

import Foundation
import Testing

/// Never an open proxy: whatever the path or headers say, only the configured upstream is contacted.
@Suite("Never an open proxy")
struct OpenProxyTests {
    /// Targets that try to steer the proxy elsewhere. `EVIL` is the host:port of a second server that must never
    /// see a connection.
    static let targets = [
        "//EVIL/x", "///EVIL/x", "/%2F%2FEVIL/x", "/%2e%2e/%2e%2e/EVIL", "/../../EVIL", "/@EVIL/x", "/x@EVIL",
        "/%40EVIL", "/\\EVIL", "/%5CEVIL", "/;@EVIL", "/?url=http://EVIL/", "/#@EVIL", "/.EVIL", "/:@EVIL",
    ]

    @Test("crafted paths reach only the configured upstream")
    func craftedPaths() async throws {
        try await withUpstream { upstream in
            try await withUpstream { evil in
                let evilHost = "127.0.0.1:\(evil.port)"
                try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                    for target in Self.targets {
                        let path = target.replacingOccurrences(of: "EVIL", with: evilHost)
                        let result = try await http(proxy.url + path, extra: ["--path-as-is"])
                        #expect([200, 400, 404].contains(result.status), "\(path): \(result.status)")
                    }
                    let raw = try await rawExchange(
                        port: proxy.port,
                        "GET http://\(evilHost)/ HTTP/1.1\r\nHost: \(evilHost)\r\n\r\n"
                    )
                    #expect(raw.hasPrefix("HTTP/1.1 4"))
                }
                #expect(evil.connectionsOpened == 0, "the proxy contacted a host it was not configured for")
                #expect(upstream.connectionsOpened >= 1)
            }
        }
    }

    @Test("Host and X-Forwarded-Host never choose the upstream")
    func headersDoNotSteer() async throws {
        try await withUpstream { upstream in
            try await withUpstream { evil in
                let evilHost = "127.0.0.1:\(evil.port)"
                let config = testConfig(upstream: upstream.url, extra: #""allowedHosts": ["127.0.0.1"]"#)
                try await withProxy(config) { proxy in
                    for headers in [
                        ["X-Forwarded-Host: \(evilHost)"], ["Host: \(evilHost)"], ["Forwarded: host=\(evilHost)"],
                        ["X-Original-URL: http://\(evilHost)/"],
                    ] {
                        let result = try await http(proxy.url + "/echo", headers: headers)
                        #expect(result.status == 200)
                    }
                }
                #expect(evil.connectionsOpened == 0)
                #expect(upstream.requests.count == 4)
            }
        }
    }

    @Test("redirects are never followed, even to another configured route's upstream")
    func redirectsNotFollowed() async throws {
        try await withUpstream { upstream in
            try await withUpstream { other in
                let config = """
                    {"routes": [{"prefix": "/", "upstream": "\(upstream.url)"}, {"prefix": "/other/", "upstream": "\(other.url)"}],
                     "cors": {"allowedOrigins": ["http://localhost:3000"]}}
                    """
                try await withProxy(config) { proxy in
                    let target = "\(other.url)/other/echo".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                    let result = try await http(proxy.url + "/redirect?to=\(target)")
                    #expect(result.status == 302)
                    #expect(result.header("Location") == "\(proxy.url)/other/echo")
                }
                #expect(other.connectionsOpened == 0)
            }
        }
    }
}

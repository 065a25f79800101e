import Foundation
import Testing

@testable import CORSProxy

/// `trustedProxies` and `forwardedHeaders` through the running proxy: who the client is for the rate limit and
/// the access log, and what the upstream is told. The test is the peer, 127.0.0.1.
@Suite("Trusted proxies and forwarding headers")
struct TrustedProxiesTests {
    static func config(upstream: String, extra: String) -> String {
        testConfig(
            upstream: upstream,
            extra: #""limits": {"rateLimit": {"key": "client", "rate": 0.01, "burst": 2}}, "# + extra
        )
    }

    /// The forwarding headers the upstream received, lowercased names.
    static func forwarding(_ echo: KeepAliveClient.Response) throws -> [String: String] {
        let object = try JSONSerialization.jsonObject(with: Data(echo.body.utf8)) as? [String: Any]
        let headers = object?["headers"] as? [[String]] ?? []
        var result: [String: String] = [:]
        for pair in headers where pair.count == 2 {
            let name = pair[0].lowercased()
            if name.hasPrefix("x-forwarded") || name == "forwarded" { result[name] = pair[1] }
        }
        return result
    }

    @Test(
        "an untrusted peer's X-Forwarded-For changes nothing: not the limit's key, the log's client, nor the upstream's view"
    )
    func spoofFromUntrustedPeer() async throws {
        try await withUpstream { upstream in
            let config = Self.config(upstream: upstream.url, extra: #""trustedProxies": ["10.0.0.0/8"]"#)
            try await withProxy(config) { proxy in
                let responses = try await offCooperativePool {
                    let client = try KeepAliveClient(port: proxy.port)
                    return try (1...3).map { index in
                        try client.get(
                            "/echo",
                            headers: ["X-Forwarded-For: 198.51.100.\(index)", "Forwarded: for=6.6.6.6"]
                        )
                    }
                }
                #expect(responses.map(\.status) == [200, 200, 429], "one bucket, however the header varies")
                #expect(
                    try Self.forwarding(responses[0]) == [
                        "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http", "x-forwarded-host": "127.0.0.1",
                    ]
                )
                let line = try await proxy.logLine(containing: "status=429")
                #expect(line.contains(" client=127.0.0.1 "))
            }
        }
    }

    @Test("from a trusted peer, the first untrusted address from the right is the client, for all three")
    func trustedChain() async throws {
        try await withUpstream { upstream in
            let config = Self.config(
                upstream: upstream.url,
                extra: #""trustedProxies": ["127.0.0.1/32", "10.0.0.0/8"]"#
            )
            try await withProxy(config) { proxy in
                let chain = "X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.1.1.1"
                let (first, limited, other) = try await offCooperativePool {
                    let client = try KeepAliveClient(port: proxy.port)
                    let first = try client.get("/echo", headers: [chain])
                    _ = try client.get("/echo", headers: ["X-Forwarded-For: 5.5.5.5, 198.51.100.7"])
                    let limited = try client.get("/echo", headers: ["X-Forwarded-For: 198.51.100.7, 10.9.9.9"])
                    let other = try client.get("/echo", headers: ["X-Forwarded-For: 198.51.100.8"])
                    return (first, limited, other)
                }
                #expect(first.status == 200)
                #expect(try Self.forwarding(first)["x-forwarded-for"] == "198.51.100.7, 10.1.1.1, 127.0.0.1")
                #expect(limited.status == 429, "the third request of 198.51.100.7, via any trusted hops")
                #expect(other.status == 200, "another client has its own bucket")
                let line = try await proxy.logLine(containing: "status=429")
                #expect(line.contains(" client=198.51.100.7 "))
            }
        }
    }

    @Test(
        "behind a trusted proxy that terminated TLS, rewritten URLs and X-Forwarded-Proto say https; untrusted, http",
        arguments: [
            ("127.0.0.1/32", "x-forwarded", ["X-Forwarded-For: 198.51.100.7", "X-Forwarded-Proto: https"], "https"),
            ("127.0.0.1/32", "forwarded", [#"Forwarded: for=198.51.100.7;proto="https""#], "https"),
            ("10.0.0.0/8", "x-forwarded", ["X-Forwarded-For: 198.51.100.7", "X-Forwarded-Proto: https"], "http"),
            ("127.0.0.1/32", "x-forwarded", ["X-Forwarded-Proto: javascript"], "http"),
        ]
    )
    func clientScheme(trusted: String, mode: String, sent: [String], scheme: String) async throws {
        try await withUpstream { upstream in
            let extra = #""trustedProxies": ["\#(trusted)"], "forwardedHeaders": "\#(mode)""#
            try await withProxy(Self.config(upstream: upstream.url, extra: extra)) { proxy in
                let onUpstream = "\(upstream.url)/echo/next?page=2"
                let to = onUpstream.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let (redirect, echo) = try await offCooperativePool {
                    let client = try KeepAliveClient(port: proxy.port)
                    return (try client.get("/redirect?to=\(to)", headers: sent), try client.get("/echo", headers: sent))
                }
                #expect(redirect.status == 302)
                #expect(redirect.header("Location") == "\(scheme)://127.0.0.1/echo/next?page=2")
                let forwarding = try Self.forwarding(echo)
                if mode == "forwarded" {
                    #expect(
                        forwarding == [
                            "forwarded": "for=198.51.100.7;proto=\(scheme), for=127.0.0.1;proto=http;host=127.0.0.1"
                        ]
                    )
                } else {
                    #expect(forwarding["x-forwarded-proto"] == scheme)
                }
            }
        }
    }

    @Test(
        "forwardedHeaders: what the upstream receives in each mode",
        arguments: [
            (
                "x-forwarded",
                [
                    "x-forwarded-for": "198.51.100.7, 127.0.0.1", "x-forwarded-proto": "http",
                    "x-forwarded-host": "127.0.0.1",
                ]
            ),
            ("forwarded", ["forwarded": "for=198.51.100.7, for=127.0.0.1;proto=http;host=127.0.0.1"]),
            ("none", [:]),
        ]
    )
    func modes(mode: String, expected: [String: String]) async throws {
        try await withUpstream { upstream in
            let extra = #""trustedProxies": ["127.0.0.1"], "forwardedHeaders": "\#(mode)""#
            try await withProxy(Self.config(upstream: upstream.url, extra: extra)) { proxy in
                let echo = try await offCooperativePool {
                    try KeepAliveClient(port: proxy.port).get(
                        "/echo",
                        headers: ["X-Forwarded-For: 198.51.100.7", "Forwarded: for=198.51.100.7"]
                    )
                }
                #expect(try Self.forwarding(echo) == expected)
            }
        }
    }
}

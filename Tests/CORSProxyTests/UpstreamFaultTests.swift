import Foundation
import NIOCore
import NIOPosix
import Testing

/// Upstream faults get the proxy's own answer, with CORS headers and a JSON body naming upstream and cause.
@Suite("Upstream faults")
struct UpstreamFaultTests {
    static let origin = "http://localhost:3000"

    /// A loopback port with nothing listening: bound, then closed.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    @Test("connection refused → 502 with CORS headers, naming the upstream and the cause")
    func refused() async throws {
        let upstream = "http://127.0.0.1:\(try await Self.closedPort())"
        try await withProxy(testConfig(upstream: upstream)) { proxy in
            let result = try await http(proxy.url + "/rest/v1.0/me", headers: ["Origin: \(Self.origin)"])
            #expect(result.status == 502)
            #expect(result.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(result.header("Content-Type") == "application/json")
            let json = try result.json()
            #expect(json["error"] as? String == "upstream_unreachable")
            #expect(json["upstream"] as? String == upstream)
            #expect((json["cause"] as? String)?.lowercased().contains("connect") == true)
            #expect(json["curlCode"] as? Int == 7)
        }
    }

    @Test("DNS failure → 502 naming the host")
    func dnsFailure() async throws {
        try await withProxy(testConfig(upstream: "http://no-such-host.invalid")) { proxy in
            let result = try await http(proxy.url + "/x", headers: ["Origin: \(Self.origin)"])
            #expect(result.status == 502)
            #expect(result.header("Access-Control-Allow-Origin") == Self.origin)
            let json = try result.json()
            #expect(json["error"] as? String == "upstream_unreachable")
            #expect(json["curlCode"] as? Int == 6)
            #expect((json["cause"] as? String)?.contains("no-such-host.invalid") == true)
        }
    }

    @Test("an upstream slower than timeouts.total → 504 with CORS headers")
    func timeout() async throws {
        try await withUpstream { upstream in
            let config = testConfig(upstream: upstream.url, extra: #""timeouts": {"connect": 2, "total": 0.5}"#)
            try await withProxy(config) { proxy in
                // The upstream would answer 200 after 3 s; the 504 comes from the 0.5 s limit.
                let result = try await http(proxy.url + "/slow-head?ms=3000", headers: ["Origin: \(Self.origin)"])
                #expect(result.status == 504)
                #expect(result.header("Access-Control-Allow-Origin") == Self.origin)
                let json = try result.json()
                #expect(json["error"] as? String == "upstream_timeout")
                #expect(json["upstream"] as? String == upstream.url)
                #expect(json["curlCode"] as? Int == 28)
            }
        }
    }

    @Test("a body that fails after the head closes the connection: never a silently truncated 200")
    func failureAfterHead() async throws {
        try await withUpstream { upstream in
            let config = testConfig(upstream: upstream.url, extra: #""timeouts": {"total": 1}"#)
            try await withProxy(config) { proxy in
                let result = try await http(proxy.url + "/stall")
                #expect(result.status == 200)
                #expect(result.exitCode == 18, "curl reports a partial transfer (CURLE_PARTIAL_FILE)")
                #expect(result.body.count == 10)
            }
        }
    }

    @Test("one client's upstream fault does not disturb other clients")
    func isolation() async throws {
        try await withUpstream { upstream in
            let config = testConfig(upstream: upstream.url, extra: #""timeouts": {"total": 2}"#)
            try await withProxy(config) { proxy in
                async let slow = http(proxy.url + "/slow-head?ms=5000")
                for index in 0..<10 {
                    let result = try await http(proxy.url + "/echo/\(index)")
                    #expect(result.status == 200)
                }
                #expect(try await slow.status == 504)
            }
        }
    }
}

import Foundation
import Testing

/// `routes[].proxy`: libcurl goes through the route's HTTP proxy (a ``RecordingProxy`` here), for that route only,
/// and through no proxy the environment names.
@Suite("Outbound proxy per route")
struct OutboundProxyTests {
    static let proxyVariables = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]

    static func config(upstream: String, proxy: String, proxiedUpstream: String? = nil) -> String {
        """
        {"listen": "127.0.0.1:0",
         "routes": [{"prefix": "/", "upstream": "\(upstream)"},
                    {"prefix": "/via/", "upstream": "\(proxiedUpstream ?? upstream)", "stripPrefix": true, "proxy": "\(proxy)"}],
         "cors": \(defaultCORS)}
        """
    }

    @Test("the proxy sees the route's requests and only those; kept-alive connections are never mixed up")
    func onlyThatRoute() async throws {
        try await withUpstream { upstream in
            try await withRecordingProxy { recording in
                try await withProxy(Self.config(upstream: upstream.url, proxy: recording.url)) { proxy in
                    for index in 0..<6 {
                        let direct = try await http(proxy.url + "/echo/direct-\(index)")
                        let proxied = try await http(proxy.url + "/via/echo/proxied-\(index)")
                        #expect(direct.status == 200 && proxied.status == 200)
                    }
                    // An http upstream: plain forward-proxy requests, in absolute form.
                    #expect(
                        recording.requestLines == (0..<6).map { "GET \(upstream.url)/echo/proxied-\($0) HTTP/1.1" }
                    )
                    let uris = upstream.requests.map(\.uri)
                    #expect(Set(uris) == Set((0..<6).flatMap { ["/echo/direct-\($0)", "/echo/proxied-\($0)"] }))
                    // Connections were reused (each curl loop keeps a direct one and one to the proxy), yet no
                    // direct request went through the proxy nor a proxied one around it.
                    #expect(upstream.connectionsOpened < 12, "\(upstream.connectionsOpened) upstream connections")
                }
            }
        }
    }

    @Test("an https upstream goes through a CONNECT tunnel; the request's headers stay inside it")
    func connectTunnel() async throws {
        let nginx = try await Nginx.start(
            server: """
                listen 127.0.0.1:PORT ssl;
                ssl_certificate CERT;
                ssl_certificate_key KEY;
                location / { return 200 '{"tunnelled":true}'; }
                """,
            tls: true
        )
        defer { nginx.stop() }
        try await withRecordingProxy { recording in
            let route = "\"caFile\": \"\(nginx.certificate)\", \"proxy\": \"\(recording.url)\""
            try await withProxy(testConfig(upstream: nginx.url, route: route)) { proxy in
                for _ in 0..<3 {
                    let result = try await http(
                        proxy.url + "/rest/v1.0/me",
                        headers: ["Authorization: Bearer tunnel-secret", "Origin: http://localhost:3000"]
                    )
                    #expect(result.status == 200)
                    #expect(result.text.contains("tunnelled"))
                    #expect(result.header("Access-Control-Allow-Origin") == "http://localhost:3000")
                }
                let heads = recording.requestHeads
                #expect(!heads.isEmpty)
                #expect(heads.allSatisfy { $0.hasPrefix("CONNECT 127.0.0.1:\(nginx.port) HTTP/1.1\r\n") }, "\(heads)")
                #expect(heads.allSatisfy { !$0.contains("tunnel-secret") && !$0.lowercased().contains("origin:") })
            }
        }
    }

    @Test("without proxy, the environment's http_proxy, https_proxy and all_proxy are ignored")
    func environmentIgnored() async throws {
        try await withUpstream { upstream in
            try await withRecordingProxy { recording in
                let environment = Dictionary(uniqueKeysWithValues: Self.proxyVariables.map { ($0, recording.url) })
                try await withProxyProcess(
                    configJSON: testConfig(upstream: upstream.url),
                    environment: environment
                ) { proxy in
                    let result = try await http(proxy.url + "/echo/direct")
                    #expect(result.status == 200)
                    #expect(upstream.requests.map(\.uri) == ["/echo/direct"])
                    #expect(recording.requestHeads.isEmpty, "\(recording.requestHeads)")
                }
            }
        }
    }

    @Test("with proxy, the environment's no_proxy does not turn it off")
    func noProxyIgnored() async throws {
        try await withUpstream { upstream in
            try await withRecordingProxy { recording in
                try await withProxyProcess(
                    configJSON: Self.config(upstream: upstream.url, proxy: recording.url),
                    environment: ["no_proxy": "*", "NO_PROXY": "*"]
                ) { proxy in
                    let result = try await http(proxy.url + "/via/echo/proxied")
                    #expect(result.status == 200)
                    #expect(recording.requestLines == ["GET \(upstream.url)/echo/proxied HTTP/1.1"])
                }
            }
        }
    }
}

import Foundation
import Testing

/// The CORS side, through the running proxy: what a browser would receive.
@Suite("CORS through the running proxy")
struct CORSResponseTests {
    static let origin = "http://localhost:3000"

    @Test("an allowed origin gets its origin echoed, credentials, exposed headers and Vary: Origin")
    func allowedActual() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(
                    proxy.url + "/echo",
                    headers: ["Origin: \(Self.origin)", "Authorization: Bearer t"]
                )
                #expect(result.status == 200)
                #expect(result.headers("Access-Control-Allow-Origin") == [Self.origin])
                #expect(result.header("Access-Control-Allow-Credentials") == "true")
                #expect(result.header("Access-Control-Expose-Headers") == "Total, Link, Retry-After")
                #expect(result.header("Vary") == "Origin")
            }
        }
    }

    @Test("a preflight is answered by the proxy with 204 and never reaches the upstream")
    func preflight() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(
                    proxy.url + "/rest/v1.0/projects?page=2",
                    method: "OPTIONS",
                    headers: [
                        "Origin: \(Self.origin)", "Access-Control-Request-Method: PATCH",
                        "Access-Control-Request-Headers: authorization, procore-company-id, content-type",
                    ]
                )
                #expect(result.status == 204)
                #expect(result.header("Access-Control-Allow-Origin") == Self.origin)
                #expect(result.header("Access-Control-Allow-Methods")?.contains("PATCH") == true)
                #expect(
                    result.header("Access-Control-Allow-Headers") == "Authorization, Content-Type, Procore-Company-Id"
                )
                #expect(result.header("Access-Control-Allow-Credentials") == "true")
                #expect(result.header("Access-Control-Max-Age") == "600")
                #expect(
                    result.header("Vary") == "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
                )
                #expect(upstream.requests.isEmpty)
            }
        }
    }

    @Test("a preflight asking for a method or header not allowed gets lists that leave it out, and the log says why")
    func preflightRefused() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(
                    proxy.url + "/x",
                    method: "OPTIONS",
                    headers: [
                        "Origin: \(Self.origin)", "Access-Control-Request-Method: GET",
                        "Access-Control-Request-Headers: x-secret",
                    ]
                )
                #expect(result.header("Access-Control-Allow-Headers")?.lowercased().contains("x-secret") == false)
                let line = try await proxy.logLine(containing: " corsRequest=preflight")
                #expect(line.contains(" refusal=header x-secret is not in cors.allowedHeaders"))
                #expect(
                    line.contains(
                        "Request header field x-secret is not allowed by Access-Control-Allow-Headers in preflight response."
                    )
                )
                #expect(upstream.requests.isEmpty)
            }
        }
    }

    @Test("OPTIONS without Access-Control-Request-Method is an ordinary request and is forwarded")
    func plainOptions() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(proxy.url + "/echo", method: "OPTIONS", headers: ["Origin: \(Self.origin)"])
                #expect(result.status == 200)
                #expect(upstream.requests.map(\.method) == ["OPTIONS"])
                #expect(result.header("Access-Control-Allow-Origin") == Self.origin)
            }
        }
    }

    @Test(
        "upstream errors carry CORS headers too, so JavaScript can read a 401 or a 429",
        arguments: [401, 403, 429, 500, 503]
    )
    func upstreamErrors(status: Int) async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(proxy.url + "/status/\(status)", headers: ["Origin: \(Self.origin)"])
                #expect(result.status == status)
                #expect(result.header("Access-Control-Allow-Origin") == Self.origin)
                #expect(result.text == "{\"status\":\(status)}")
                if status == 429 { #expect(result.header("Retry-After") == "7") }
            }
        }
    }

    @Test("upstream Access-Control-* headers are replaced, never duplicated; the upstream's Vary is kept")
    func upstreamCORSReplaced() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let query =
                    "Access-Control-Allow-Origin=*&Access-Control-Allow-Credentials=false&Access-Control-Expose-Headers=X-Internal&Vary=Accept-Encoding"
                let result = try await http(proxy.url + "/headers?" + query, headers: ["Origin: \(Self.origin)"])
                #expect(result.headers("Access-Control-Allow-Origin") == [Self.origin])
                #expect(result.headers("Access-Control-Allow-Credentials") == ["true"])
                #expect(result.headers("Access-Control-Expose-Headers") == ["Total, Link, Retry-After"])
                #expect(result.headers("Vary") == ["Accept-Encoding, Origin"])
                let noOrigin = try await http(proxy.url + "/headers?" + query)
                #expect(
                    noOrigin.header("Access-Control-Allow-Origin") == nil,
                    "upstream CORS headers are dropped even without Origin"
                )
            }
        }
    }

    @Test("a disallowed origin is refused with 403 and a JSON body naming the origin and the fix (reject mode)")
    func reject() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(proxy.url + "/echo", headers: ["Origin: https://evil.example.net"])
                #expect(result.status == 403)
                #expect(result.header("Access-Control-Allow-Origin") == nil)
                #expect(result.header("Vary") == "Origin")
                let json = try result.json()
                #expect(json["error"] as? String == "origin_not_allowed")
                #expect(json["origin"] as? String == "https://evil.example.net")
                #expect((json["fix"] as? String)?.contains("cors.allowedOrigins") == true)
                let preflight = try await http(
                    proxy.url + "/echo",
                    method: "OPTIONS",
                    headers: ["Origin: https://evil.example.net", "Access-Control-Request-Method: GET"]
                )
                #expect(preflight.status == 403)
                #expect(upstream.requests.isEmpty)
            }
        }
    }

    @Test("omit-headers forwards a disallowed origin's request but adds no CORS headers")
    func omitHeaders() async throws {
        try await withUpstream { upstream in
            let cors = #"{"allowedOrigins": ["http://localhost:3000"], "disallowedOrigin": "omit-headers"}"#
            try await withProxy(testConfig(upstream: upstream.url, cors: cors)) { proxy in
                let result = try await http(
                    proxy.url + "/headers?Access-Control-Allow-Origin=*",
                    headers: ["Origin: https://evil.example.net"]
                )
                #expect(result.status == 200)
                #expect(result.header("Access-Control-Allow-Origin") == nil)
                #expect(result.header("Vary") == "Origin")
                #expect(upstream.requests.count == 1)
                let line = try await proxy.logLine()
                #expect(
                    line.contains(
                        "chrome=Access to fetch at '\(proxy.url)/headers?Access-Control-Allow-Origin=*' from origin 'https://evil.example.net' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource."
                    )
                )
            }
        }
    }

    @Test("requests without Origin are forwarded without CORS headers, with Vary: Origin")
    func noOrigin() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(proxy.url + "/echo")
                #expect(result.status == 200)
                #expect(result.header("Access-Control-Allow-Origin") == nil)
                #expect(result.header("Vary") == "Origin")
            }
        }
    }

    @Test("a Host not in allowedHosts gets 403 and nothing is forwarded (DNS rebinding)")
    func allowedHosts() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let rebound = try await http(proxy.url + "/echo", headers: ["Host: attacker.example.com:\(proxy.port)"])
                #expect(rebound.status == 403)
                #expect(try rebound.json()["error"] as? String == "host_not_allowed")
                let line = try await proxy.logLine()
                #expect(
                    line.contains(" error=host_not_allowed")
                        && line.contains(" host=attacker.example.com:\(proxy.port)"),
                    "\(line)"
                )
                let localhost = try await http(proxy.url + "/echo", headers: ["Host: localhost:\(proxy.port)"])
                #expect(localhost.status == 200)
                #expect(upstream.requests.count == 1)
            }
            try await withProxy(testConfig(upstream: upstream.url, extra: #""allowedHosts": ["proxy.team.internal"]"#))
            { proxy in
                let listed = try await http(proxy.url + "/echo", headers: ["Host: proxy.team.internal"])
                #expect(listed.status == 200)
                let loopback = try await http(proxy.url + "/echo")
                #expect(loopback.status == 403, "a configured list replaces the default one")
            }
        }
    }

    @Test("the proxy's own errors carry CORS headers for an allowed origin")
    func ownErrorsHaveCORS() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let wrongHost = try await http(
                    proxy.url + "/echo",
                    headers: ["Host: other.example", "Origin: \(Self.origin)"]
                )
                #expect(wrongHost.status == 403)
                #expect(wrongHost.header("Access-Control-Allow-Origin") == Self.origin)
                let health = try await http(
                    proxy.url + "/__corsproxy/healthz",
                    method: "POST",
                    headers: ["Origin: \(Self.origin)"]
                )
                #expect(health.status == 405)
                #expect(health.header("Access-Control-Allow-Origin") == Self.origin)
                #expect(upstream.requests.isEmpty)
            }
        }
    }
}

import Foundation
import Testing

/// The request path through the real proxy and real libcurl to a real upstream on loopback.
@Suite("Forwarding through libcurl")
struct ForwardingTests {
    /// The JSON `/echo` answer: what the upstream received.
    struct Echo {
        let method: String
        let uri: String
        let headers: [(String, String)]
        let bodyLength: Int

        init(_ result: HTTPResult) throws {
            let json = try result.json()
            self.method = json["method"] as? String ?? ""
            self.uri = json["uri"] as? String ?? ""
            self.headers = (json["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
            self.bodyLength = json["bodyLength"] as? Int ?? -1
        }

        func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        func has(_ name: String) -> Bool { self.header(name) != nil }
    }

    @Test(
        "any method reaches the upstream with the path and query byte for byte",
        arguments: [
            "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND",
        ]
    )
    func methods(method: String) async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let target = "/echo/rest/v1.0/projects?company_id=42&q=a%2Fb+c&&empty=&x=%E2%9C%93"
                let result = try await http(
                    proxy.url + target,
                    method: method,
                    headers: ["Origin: http://localhost:3000"]
                )
                #expect(result.status == 200)
                let echo = try Echo(result)
                #expect(echo.method == method)
                #expect(echo.uri == target)
            }
        }
    }

    @Test("an easy handle reused for the next transfer carries nothing of the last one over")
    func reusedHandles() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let body = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "corsproxy-\(UUID().uuidString)"
                ).path
                try Data(repeating: 7, count: 3000).write(to: URL(fileURLWithPath: body))
                defer { try? FileManager.default.removeItem(atPath: body) }
                // One request at a time, so each transfer takes the handle the last one left: HEAD sets NOBODY,
                // an upload sets UPLOAD and CUSTOMREQUEST; none of it may reach the GETs after them.
                #expect(try await http(proxy.url + "/bytes/1234", method: "HEAD").status == 200)
                #expect(try await http(proxy.url + "/bytes/100").body.count == 100)
                #expect(try await http(proxy.url + "/echo", method: "PUT", bodyFile: body).status == 200)
                let get = try Echo(try await http(proxy.url + "/echo"))
                #expect(get.method == "GET" && get.bodyLength == 0)
                #expect(upstream.requests.map(\.method) == ["HEAD", "GET", "PUT", "GET"])
                #expect(upstream.requests.map(\.bodyLength) == [0, 0, 3000, 0])
            }
        }
    }

    @Test("pipelined requests are answered in order, a quick local answer never overtaking a slow upstream one")
    func pipelining() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let host = "Host: 127.0.0.1:\(proxy.port)\r\nOrigin: http://localhost:3000\r\n"
                let raw = try await rawExchange(
                    port: proxy.port,
                    "GET /slow-head?ms=300 HTTP/1.1\r\n\(host)\r\n"
                        + "OPTIONS /x HTTP/1.1\r\n\(host)Access-Control-Request-Method: PUT\r\n\r\n"
                        + "POST /echo HTTP/1.1\r\n\(host)Content-Length: 5\r\n\r\nhello"
                        + "GET /bytes/10 HTTP/1.1\r\n\(host)Connection: close\r\n\r\n"
                )
                // Bodies are not followed by a line break, so split on the status lines themselves.
                let statuses = raw.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix { $0 != "\r\n" } }
                #expect(statuses == ["200 OK", "204 No Content", "200 OK", "200 OK"], "\(raw)")
                #expect(raw.range(of: "slow")!.lowerBound < raw.range(of: "204 No Content")!.lowerBound)
                #expect(raw.contains("\"bodyLength\":5"))
                #expect(upstream.requests.map(\.uri) == ["/slow-head?ms=300", "/echo", "/bytes/10"])
            }
        }
    }

    @Test("HEAD is forwarded as HEAD and answered without a body")
    func head() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                // A HEAD then a GET on one connection: a body wrongly sent after the HEAD would show up in front
                // of the second response.
                let host = "Host: 127.0.0.1:\(proxy.port)\r\n"
                let raw = try await rawExchange(
                    port: proxy.port,
                    "HEAD /bytes/1234 HTTP/1.1\r\n\(host)\r\nGET /status/204 HTTP/1.1\r\n\(host)Connection: close\r\n\r\n"
                )
                let responses = raw.components(separatedBy: "\r\n\r\n")
                #expect(responses.count == 3, "\(raw)\n\(proxy.logLines)")
                #expect(responses[0].hasPrefix("HTTP/1.1 200 OK"))
                #expect(responses[0].lowercased().contains("content-length: 1234"))
                #expect(responses[1].hasPrefix("HTTP/1.1 204"), "the GET must follow the HEAD's head directly")
                #expect(upstream.requests.first?.method == "HEAD")
            }
        }
    }

    @Test("Authorization passes untouched; hop-by-hop headers do not; Host is the upstream's")
    func headers() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzUxMiJ9.payload.signature"
                let result = try await http(
                    proxy.url + "/echo",
                    headers: [
                        "Authorization: Bearer \(token)", "Procore-Company-Id: 42", "Connection: keep-alive, X-Hop",
                        "X-Hop: secret-hop", "Keep-Alive: timeout=5", "TE: trailers", "Proxy-Authorization: Basic eA==",
                        "Upgrade: h2c", "Accept-Encoding: gzip, br",
                    ]
                )
                let echo = try Echo(result)
                #expect(echo.header("Authorization") == "Bearer \(token)")
                #expect(echo.header("Procore-Company-Id") == "42")
                #expect(echo.header("Accept-Encoding") == "gzip, br")
                #expect(echo.header("Host") == "127.0.0.1:\(upstream.port)")
                for name in ["X-Hop", "Keep-Alive", "TE", "Proxy-Authorization", "Upgrade", "Expect"] {
                    #expect(!echo.has(name), "\(name) must not be forwarded")
                }
                #expect(echo.header("Connection").map { !$0.lowercased().contains("x-hop") } ?? true)
                #expect(echo.header("X-Forwarded-For") == "127.0.0.1")
            }
        }
    }

    @Test("Content-Encoding passes through without decoding")
    func contentEncoding() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                // The body "headers" is not gzip at all: a decoding proxy would fail or change it.
                let result = try await http(
                    proxy.url + "/headers?Content-Encoding=gzip",
                    headers: ["Accept-Encoding: gzip"]
                )
                #expect(result.status == 200)
                #expect(result.header("Content-Encoding") == "gzip")
                #expect(result.text == "headers")
            }
        }
    }

    @Test("redirects are passed back, not followed; Location on the upstream is rewritten to the proxy")
    func redirects() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let onUpstream = "\(upstream.url)/echo/next?page=2"
                let result = try await http(
                    proxy.url + "/redirect?to=" + onUpstream.addingPercentEncoding(
                        withAllowedCharacters: .alphanumerics
                    )!
                )
                #expect(result.status == 302)
                #expect(result.header("Location") == "\(proxy.url)/echo/next?page=2")
                let elsewhere = try await http(proxy.url + "/redirect?to=https%3A%2F%2Flogin.example.com%2Fx")
                #expect(elsewhere.status == 302)
                #expect(elsewhere.header("Location") == "https://login.example.com/x")
                #expect(upstream.requests.count == 2, "the proxy must not follow the redirect")
            }
        }
    }

    @Test("Link URLs on the upstream are rewritten to the proxy (Procore pagination)")
    func linkRewriting() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let link =
                    "<\(upstream.url)/rest/v1.0/projects?page=2>; rel=\"next\", <https://x.example/y>; rel=\"help\""
                let result = try await http(
                    proxy.url + "/headers?Link=" + link.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                )
                #expect(
                    result.header("Link")
                        == "<\(proxy.url)/rest/v1.0/projects?page=2>; rel=\"next\", <https://x.example/y>; rel=\"help\""
                )
            }
        }
    }

    @Test("stripPrefix removes the route prefix upstream and puts it back in Location")
    func stripPrefix() async throws {
        try await withUpstream { upstream in
            let config = """
                {"routes": [{"prefix": "/api/", "upstream": "\(upstream.url)", "stripPrefix": true}],
                 "cors": {"allowedOrigins": ["http://localhost:3000"]}}
                """
            try await withProxy(config) { proxy in
                let echo = try Echo(try await http(proxy.url + "/api/echo?x=1"))
                #expect(echo.uri == "/echo?x=1")
                let redirect = try await http(
                    proxy.url + "/api/redirect?to=" + "\(upstream.url)/echo/2".addingPercentEncoding(
                        withAllowedCharacters: .alphanumerics
                    )!
                )
                #expect(redirect.header("Location") == "\(proxy.url)/api/echo/2")
                let none = try await http(proxy.url + "/other", headers: ["Origin: http://localhost:3000"])
                #expect(none.status == 404)
                #expect(none.header("Access-Control-Allow-Origin") == "http://localhost:3000")
            }
        }
    }

    @Test(
        "upstream connections are kept alive and reused across requests: at most one per curl loop",
        arguments: [1, 2]
    )
    func connectionReuse(curlLoops: Int) async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url), curlLoops: curlLoops) { proxy in
                for index in 0..<20 {
                    let result = try await http(proxy.url + "/echo/\(index)")
                    #expect(result.status == 200)
                }
                #expect((1...curlLoops).contains(upstream.connectionsOpened))
            }
        }
    }

    @Test("cookies are dropped both ways unless the route forwards them")
    func cookies() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let echo = try Echo(try await http(proxy.url + "/echo", headers: ["Cookie: session=abc"]))
                #expect(!echo.has("Cookie"))
                let set = try await http(proxy.url + "/headers?Set-Cookie=a%3D1")
                #expect(set.header("Set-Cookie") == nil)
            }
            try await withProxy(testConfig(upstream: upstream.url, route: "\"forwardCookies\": true")) { proxy in
                let echo = try Echo(try await http(proxy.url + "/echo", headers: ["Cookie: session=abc"]))
                #expect(echo.header("Cookie") == "session=abc")
                let set = try await http(proxy.url + "/headers?Set-Cookie=a%3D1")
                #expect(set.header("Set-Cookie") == "a=1")
            }
        }
    }

    @Test("request bodies arrive whole, with Content-Length or chunked; POST without body sends Content-Length: 0")
    func bodies() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let file = try patternFile(count: 100_000)
                defer { try? FileManager.default.removeItem(atPath: file) }
                let sized = try Echo(try await http(proxy.url + "/echo", method: "POST", bodyFile: file))
                #expect(sized.bodyLength == 100_000)
                #expect(sized.header("Content-Length") == "100000")
                let chunked = try Echo(
                    try await http(
                        proxy.url + "/echo",
                        method: "PUT",
                        headers: ["Transfer-Encoding: chunked"],
                        bodyFile: file
                    )
                )
                #expect(chunked.bodyLength == 100_000)
                #expect(chunked.header("Transfer-Encoding") == "chunked")
                let empty = try Echo(try await http(proxy.url + "/echo", method: "POST"))
                #expect(empty.bodyLength == 0)
                #expect(empty.header("Content-Length") == "0")
            }
        }
    }

    @Test("Expect: 100-continue is answered at once, so clients do not wait a second before sending the body")
    func expectContinue() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let file = try patternFile(count: 2 * 1024 * 1024)
                defer { try? FileManager.default.removeItem(atPath: file) }
                // curl sends Expect: 100-continue for bodies over 1 MiB and waits up to this long for the 100.
                let result = try await http(
                    proxy.url + "/echo",
                    method: "PUT",
                    headers: ["Expect: 100-continue"],
                    bodyFile: file,
                    extra: ["--expect100-timeout", "20", "--max-time", "10"]
                )
                #expect(result.status == 200, "without an interim 100 curl waits 20 s and --max-time ends it")
                #expect(try result.json()["bodyLength"] as? Int == 2 * 1024 * 1024)
                #expect(upstream.requests.first.map { !$0.headers.contains { $0.0.lowercased() == "expect" } } == true)
            }
        }
    }

    @Test("the health endpoint answers itself and is never forwarded")
    func health() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(proxy.url + "/__corsproxy/healthz")
                #expect(result.status == 200)
                #expect(result.text == "ok")
                #expect(upstream.requests.isEmpty)
            }
        }
    }
}

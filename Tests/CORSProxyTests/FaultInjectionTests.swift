import Foundation
import NIOHTTP1
import Testing

@testable import CORSProxy

/// Every fault kind through the running proxy: what goes on the wire instead of the correct answer, what reaches
/// the upstream, and how the exchange is recorded.
@Suite("Fault injection")
struct FaultInjectionTests {
    static let origin = "http://localhost:3000"

    static func config(
        _ upstream: String,
        requestControl: Bool = true,
        rules: String = "",
        cors: String? = nil
    ) -> String {
        let corsJSON =
            cors ?? """
                {"allowedOrigins": ["http://localhost:3000", "http://localhost:5173"],
                 "allowedHeaders": ["Authorization", "Content-Type"],
                 "exposedHeaders": ["Total", "Link"],
                 "allowCredentials": true, "allowPrivateNetwork": true, "maxAge": 600}
                """
        let route = rules.isEmpty ? "" : #""faults": [\#(rules)]"#
        return testConfig(
            upstream: upstream,
            cors: corsJSON,
            extra: #""faults": {"requestControl": \#(requestControl), "seed": 7}"#,
            route: route
        )
    }

    static let preflightHeaders = [
        "Origin: http://localhost:3000", "Access-Control-Request-Method: PUT",
        "Access-Control-Request-Headers: authorization,content-type", "Access-Control-Request-Private-Network: true",
    ]

    /// A preflight fault: the answer the browser judges, and the upstream never sees a request.
    @Test(
        "preflight faults change only the preflight's answer and never reach the upstream",
        arguments: [
            ("preflight-no-allow-origin", 204),
            ("preflight-status", 403),
            ("preflight-status:500", 500),
            ("preflight-redirect", 307),
            ("method-not-allowed", 204),
            ("header-not-allowed", 204),
            ("private-network-missing", 204),
        ]
    )
    func preflight(kind: String, status: Int) async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream.url)) { proxy in
                let url = proxy.url + "/rest/v1.0/me?corsproxy-fault=\(kind)"
                let result = try await http(url, method: "OPTIONS", headers: Self.preflightHeaders)
                #expect(result.status == status, "\(kind)")
                let kindName = String(kind.prefix { $0 != ":" })
                #expect(result.header("X-Corsproxy-Fault") == kindName)
                let allowOrigin = result.headers("Access-Control-Allow-Origin")
                let methods = result.header("Access-Control-Allow-Methods") ?? ""
                let headers = (result.header("Access-Control-Allow-Headers") ?? "").lowercased()
                let privateNetwork = result.header("Access-Control-Allow-Private-Network")
                #expect(allowOrigin == (kindName == "preflight-no-allow-origin" ? [] : [Self.origin]), "\(kind)")
                #expect(methods.contains("PUT") == (kindName != "method-not-allowed"), "\(kind): \(methods)")
                #expect(headers.contains("authorization") == (kindName != "header-not-allowed"), "\(kind): \(headers)")
                #expect((privateNetwork == "true") == (kindName != "private-network-missing"), "\(kind)")
                if kindName == "preflight-redirect" {
                    #expect(result.header("Location") == url)
                }
                let line = try await proxy.logLine(containing: "fault=\(kind)")
                #expect(line.contains("chrome=Access to fetch at"), "the log predicts the failure: \(line)")
                let ledger = try await http(proxy.url + "/__corsproxy/faults").json()
                let entry = try #require((ledger["faults"] as? [[String: Any]])?.last)
                #expect(entry["kind"] as? String == kindName && entry["method"] as? String == "OPTIONS")
                #expect(
                    line.split(separator: " ").contains("requestId=\(entry["requestId"] as? String ?? "?")"),
                    "\(line)"
                )
                #expect(upstream.requests.isEmpty, "a preflight fault never reaches the upstream")
            }
        }
    }

    /// An actual-response fault keeps the upstream's status and body; only the CORS lines change.
    @Test(
        "actual-response faults keep the upstream's status and body and change only the CORS headers",
        arguments: [
            "no-allow-origin", "wrong-allow-origin", "multiple-allow-origin", "wildcard-with-credentials",
            "no-allow-credentials", "no-expose-headers",
        ]
    )
    func actual(kind: String) async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream.url)) { proxy in
                let result = try await http(
                    proxy.url + "/status/418",
                    headers: ["Origin: \(Self.origin)", "X-Corsproxy-Fault: \(kind)"]
                )
                #expect(result.status == 418 && result.text == #"{"status":418}"#)
                #expect(result.header("X-Corsproxy-Fault") == kind)
                let expected: [String] =
                    switch kind {
                    case "no-allow-origin": []
                    case "wrong-allow-origin": ["http://wrong-origin.invalid"]
                    case "multiple-allow-origin": [Self.origin, Self.origin]
                    case "wildcard-with-credentials": ["*"]
                    default: [Self.origin]
                    }
                #expect(result.headers("Access-Control-Allow-Origin") == expected, "\(kind)")
                #expect((result.header("Access-Control-Allow-Credentials") == nil) == (kind == "no-allow-credentials"))
                #expect((result.header("Access-Control-Expose-Headers") == nil) == (kind == "no-expose-headers"))
                // The header that names the fault reached the proxy only.
                #expect(upstream.requests.count == 1)
                #expect(
                    !(upstream.requests.first?.headers.contains { $0.0.lowercased() == "x-corsproxy-fault" } ?? true)
                )
                let line = try await proxy.logLine(containing: "fault=\(kind)")
                #expect(line.contains(" status=418"), "\(line)")
            }
        }
    }

    @Test("error-without-cors and status answer themselves: the upstream is not called")
    func replacingAnswers() async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream.url)) { proxy in
                let bare = try await http(
                    proxy.url + "/rest/v1.0/me?corsproxy-fault=error-without-cors",
                    headers: ["Origin: \(Self.origin)"]
                )
                #expect(bare.status == 429 && bare.header("Retry-After") == "5")
                #expect(!bare.headers.contains { $0.name.lowercased().hasPrefix("access-control-") })
                let status = try await http(
                    proxy.url + "/rest/v1.0/me?corsproxy-fault=status:502",
                    headers: ["Origin: \(Self.origin)"]
                )
                #expect(status.status == 502 && status.header("Retry-After") == "5")
                #expect(status.header("Access-Control-Allow-Origin") == Self.origin)
                let exposed = status.header("Access-Control-Expose-Headers") ?? ""
                #expect(exposed.contains("Retry-After") && exposed.contains("X-Corsproxy-Fault"), "\(exposed)")
                #expect(try status.json()["error"] as? String == "injected_fault")
                #expect(upstream.requests.isEmpty)
            }
        }
    }

    @Test("latency: the correct answer, N ms late, on either stage")
    func latency() async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream.url)) { proxy in
                let started = ContinuousClock.now
                let result = try await http(
                    proxy.url + "/echo?corsproxy-fault=latency:400&x=1",
                    method: "POST",
                    headers: ["Origin: \(Self.origin)", "Content-Type: text/plain"],
                    extra: ["--data-binary", "hello"]
                )
                #expect(ContinuousClock.now - started >= .milliseconds(400))
                #expect(result.status == 200 && result.header("Access-Control-Allow-Origin") == Self.origin)
                let echoed = try result.json()
                #expect(echoed["uri"] as? String == "/echo?x=1", "the parameter is the proxy's")
                #expect(
                    upstream.requests.first?.bodyLength == 5,
                    "a body that came during the delay is forwarded whole"
                )
                let preflightStart = ContinuousClock.now
                let preflight = try await http(
                    proxy.url + "/echo?corsproxy-fault=latency:300",
                    method: "OPTIONS",
                    headers: Self.preflightHeaders
                )
                #expect(ContinuousClock.now - preflightStart >= .milliseconds(300))
                #expect(preflight.status == 204 && preflight.header("Access-Control-Allow-Origin") == Self.origin)
            }
        }
    }

    @Test("with request control off, the parameter and the header reach the upstream untouched and inject nothing")
    func requestControlOff() async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream.url, requestControl: false)) { proxy in
                let result = try await http(
                    proxy.url + "/echo?corsproxy-fault=no-allow-origin&a=%20b",
                    headers: ["Origin: \(Self.origin)", "X-Corsproxy-Fault: status:500"]
                )
                #expect(result.status == 200 && result.header("Access-Control-Allow-Origin") == Self.origin)
                #expect(result.header("X-Corsproxy-Fault") == nil)
                let request = try #require(upstream.requests.first)
                #expect(request.uri == "/echo?corsproxy-fault=no-allow-origin&a=%20b")
                #expect(request.headers.contains { $0.0.lowercased() == "x-corsproxy-fault" && $0.1 == "status:500" })
                let ledger = try await http(proxy.url + "/__corsproxy/faults").json()
                #expect((ledger["faults"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test("with request control on, the header is allowed in preflights; a fault of the other stage is not injected")
    func requestControlStages() async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream.url)) { proxy in
                let preflight = try await http(
                    proxy.url + "/echo?corsproxy-fault=no-allow-origin",
                    method: "OPTIONS",
                    headers: [
                        "Origin: \(Self.origin)", "Access-Control-Request-Method: GET",
                        "Access-Control-Request-Headers: x-corsproxy-fault",
                    ]
                )
                #expect(
                    preflight.header("Access-Control-Allow-Origin") == Self.origin,
                    "an actual fault leaves the preflight alone"
                )
                #expect(preflight.header("Access-Control-Allow-Headers")?.contains("X-Corsproxy-Fault") == true)
                #expect(preflight.header("X-Corsproxy-Fault") == nil)
                let actual = try await http(
                    proxy.url + "/echo?corsproxy-fault=preflight-redirect",
                    headers: ["Origin: \(Self.origin)"]
                )
                #expect(actual.status == 200 && actual.header("X-Corsproxy-Fault") == nil, "and the reverse")
            }
        }
    }

    @Test("route rules: methods and origins filters; a rule that matches nothing injects nothing")
    func routeRules() async throws {
        try await withUpstream { upstream in
            let rules =
                #"{"fault": "no-allow-origin", "methods": ["DELETE"]}, {"fault": "status:503", "origins": ["http://localhost:5173"]}"#
            try await withProxy(Self.config(upstream.url, requestControl: false, rules: rules)) { proxy in
                let get = try await http(proxy.url + "/echo", headers: ["Origin: \(Self.origin)"])
                #expect(get.status == 200 && get.header("Access-Control-Allow-Origin") == Self.origin)
                let delete = try await http(proxy.url + "/echo", method: "DELETE", headers: ["Origin: \(Self.origin)"])
                #expect(delete.status == 200 && delete.header("Access-Control-Allow-Origin") == nil)
                let other = try await http(proxy.url + "/echo", headers: ["Origin: http://localhost:5173"])
                #expect(other.status == 503)
                let noOrigin = try await http(proxy.url + "/echo")
                #expect(noOrigin.status == 200, "an origins filter never matches a request without Origin")
            }
        }
    }
}

/// The injector's draws and filters, counted over many requests without sockets.
@Suite("Fault sampling")
struct FaultSamplingTests {
    static func injector(seed: UInt64?) -> FaultInjector {
        FaultInjector(settings: .init(requestControl: false, seed: seed))
    }

    static let rule = ProxyConfig.FaultRule(fault: .noAllowOrigin, rate: 0.1)

    static func injected(
        _ injector: FaultInjector,
        count: Int,
        origin: String = "http://localhost:3000",
        rules: [ProxyConfig.FaultRule] = [rule]
    ) -> [Int] {
        (0..<count).filter { _ in
            injector.chosen(from: rules, method: "GET", origin: Origin(origin), applies: { _ in true }) != nil
        }
    }

    // Fixed seeds: ± 90 is three standard deviations, so a random seed would miss it in about 1 run of 370.
    @Test("rate 0.1 over 10,000 requests injects 1,000 ± 90 faults, for each of five seeds")
    func rate() {
        for seed in [0, 1, 7, 42, 12345] as [UInt64?] {
            let count = Self.injected(Self.injector(seed: seed), count: 10_000).count
            #expect((910...1090).contains(count), "seed \(String(describing: seed)): \(count)")
        }
    }

    @Test("the same seed injects at the same request indices; another seed elsewhere")
    func seeded() {
        let first = Self.injected(Self.injector(seed: 42), count: 2000)
        let second = Self.injected(Self.injector(seed: 42), count: 2000)
        let other = Self.injected(Self.injector(seed: 43), count: 2000)
        #expect(first == second && !first.isEmpty)
        #expect(first != other)
    }

    @Test("an origins filter gives no injection to other origins, and a methods filter none to other methods")
    func filters() throws {
        let rule = ProxyConfig.FaultRule(
            fault: .noAllowOrigin,
            rate: 1,
            methods: ["PUT"],
            origins: [try OriginPattern.parse("https://*.example.com").get()]
        )
        let injector = Self.injector(seed: 1)
        #expect(
            injector.chosen(
                from: [rule],
                method: "PUT",
                origin: Origin("https://a.example.com"),
                applies: { _ in true }
            ) != nil
        )
        #expect(
            injector.chosen(
                from: [rule],
                method: "GET",
                origin: Origin("https://a.example.com"),
                applies: { _ in true }
            ) == nil
        )
        #expect(Self.injected(injector, count: 1000, origin: "http://localhost:3000", rules: [rule]).isEmpty)
        #expect(injector.chosen(from: [rule], method: "PUT", origin: nil, applies: { _ in true }) == nil)
    }

    @Test("request control reads the header first, then the query parameter, percent-decoded; strips only its own")
    func requestControl() {
        let injector = FaultInjector(settings: .init(requestControl: true, seed: 1))
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x?a=1&corsproxy-fault=latency%3A250&b=2")
        #expect(injector.requested(by: head) == .latency(milliseconds: 250))
        head.headers.add(name: "X-Corsproxy-Fault", value: "status:418")
        #expect(injector.requested(by: head) == .status(418))
        #expect(FaultInjector.removingParameter(from: "a=1&corsproxy-fault=x&b=%20") == "a=1&b=%20")
        // Found and removed byte by byte, as the upstream splits the query: a combining mark after `?` or `&`
        // makes one Character with it, but the parameter after it is still a parameter.
        #expect(FaultInjector.parameterValue(in: "/x?\u{301}&corsproxy-fault=cors") == "cors")
        #expect(FaultInjector.removingParameter(from: "\u{301}&corsproxy-fault=cors") == "\u{301}")
        #expect(FaultInjector.parameterValue(in: "/x?\u{301}y?corsproxy-fault=cors") == nil)
        #expect(FaultInjector(settings: .init(requestControl: false, seed: 1)).requested(by: head) == nil)
    }
}

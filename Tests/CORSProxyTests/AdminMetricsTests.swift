import Foundation
import Testing

/// `/metrics` on the admin listener: what each series counts, checked against a real proxy, a real upstream and
/// the real `promtool`.
@Suite("Admin metrics")
struct AdminMetricsTests {
    static let allowed = "Origin: http://localhost:3000"

    /// Scrapes until `done` holds (a record reaches the sinks just after its response), or fails after 5 s.
    static func scrape(
        _ proxy: RunningAdminProxy,
        until done: (Scrape) -> Bool = { _ in true }
    ) async throws -> Scrape {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let scrape = try await proxy.scrape()
            if done(scrape) { return scrape }
            guard ContinuousClock.now < deadline else { return scrape }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func requests(_ scrape: Scrape, _ route: String, _ status: String, _ cors: String) -> Double {
        scrape.value("corsproxy_requests_total", ["route": route, "status": status, "cors": cors])
    }

    @Test("promtool check metrics passes on a scrape after every kind of exchange")
    func promtoolAcceptsTheScrape() async throws {
        let promtool = "/usr/bin/promtool"
        try #require(FileManager.default.isExecutableFile(atPath: promtool), "apt-get install prometheus")
        try await withUpstream { upstream in
            let extra = #""faults": {"requestControl": true}"#
            try await withAdminProxy(AdminListenerTests.config(upstream: upstream.url, extra: extra)) { proxy in
                _ = try await http(proxy.url + "/api/echo", headers: [Self.allowed])
                _ = try await http(proxy.url + "/api/headers?X-Rate-Limit-Remaining=12")
                _ = try await http(proxy.url + "/api/echo?corsproxy-fault=no-allow-origin", headers: [Self.allowed])
                _ = try await http(proxy.url + "/api/reset-before-head")
                _ = try await http(proxy.url + "/nowhere", headers: ["Origin: https://evil.test"])
                let scrape = try await Self.scrape(proxy) { $0.value("corsproxy_requests_total") >= 5 }
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID()).txt")
                try Data(scrape.text.utf8).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                let process = try ChildProcess(
                    "/bin/sh",
                    ["-c", "\(promtool) check metrics < '\(file.path)' 2>&1"],
                    standardOutput: .pipe
                )
                let output = process.standardOutput!
                let text = try await offCooperativePool {
                    String(decoding: output.readDataToEndOfFile(), as: UTF8.self)
                }
                #expect(await process.waitForExit() == 0, "promtool: \(text)\n\(scrape.text)")
                for name in [
                    "corsproxy_requests_total", "corsproxy_request_duration_seconds_bucket",
                    "corsproxy_upstream_duration_seconds_bucket", "corsproxy_requests_in_flight",
                    "corsproxy_connections_open", "corsproxy_response_bytes_total", "corsproxy_upstream_errors_total",
                    "corsproxy_upstream_connections_opened_total", "corsproxy_faults_injected_total",
                    "corsproxy_rate_limited_total", "corsproxy_upstream_rate_limit_remaining",
                    "corsproxy_config_reloads_total", "corsproxy_config_last_reload_success_timestamp_seconds",
                    "corsproxy_tls_certificate_expiry_timestamp_seconds",
                ] {
                    #expect(scrape.samples.keys.contains { Scrape.name(of: $0) == name }, "\(name) missing")
                }
            }
        }
    }

    @Test("after N requests of each (route, status, verdict), each counter moved by exactly N")
    func countersMoveByExactlyN() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(AdminListenerTests.config(upstream: upstream.url)) { proxy in
                let before = try await proxy.scrape()
                let preflight = ["-X", "OPTIONS"]
                let cases: [(count: Int, path: String, headers: [String], extra: [String], labels: [String])] = [
                    (3, "/api/echo", [Self.allowed], [], ["/api", "200", "allowed"]),
                    (2, "/api/echo", [], [], ["/api", "200", "absent"]),
                    (4, "/api/echo", ["Origin: https://evil.test"], [], ["/api", "403", "refused"]),
                    (
                        2, "/api/echo", [Self.allowed, "Access-Control-Request-Method: PUT"], preflight,
                        ["/api", "204", "preflight"]
                    ),
                    (
                        1, "/api/echo", [Self.allowed, "Access-Control-Request-Method: TRACE"], preflight,
                        ["/api", "204", "preflight-refused"]
                    ),
                    (3, "/nowhere", [], [], ["none", "404", "absent"]),
                    (2, "/other/status/503", [], [], ["/other", "503", "absent"]),
                ]
                for item in cases {
                    for _ in 0..<item.count {
                        _ = try await http(proxy.url + item.path, headers: item.headers, extra: item.extra)
                    }
                }
                let total = Double(cases.map(\.count).reduce(0, +))
                let after = try await Self.scrape(proxy) {
                    $0.value("corsproxy_requests_total") - before.value("corsproxy_requests_total") >= total
                }
                for item in cases {
                    let (route, status, cors) = (item.labels[0], item.labels[1], item.labels[2])
                    let moved = Self.requests(after, route, status, cors) - Self.requests(before, route, status, cors)
                    #expect(moved == Double(item.count), "\(item.labels)")
                }
                #expect(after.value("corsproxy_requests_total") - before.value("corsproxy_requests_total") == total)
                #expect(after.value("corsproxy_response_bytes_total", ["route": "/api"]) > 0)
                #expect(after.value("corsproxy_upstream_connections_opened_total") >= 1)
                #expect(after.value("corsproxy_requests_in_flight") == 0)
                let closed = try await Self.scrape(proxy) { $0.value("corsproxy_connections_open") == 0 }
                #expect(closed.value("corsproxy_connections_open") == 0)
            }
        }
    }

    @Test("a 100 ms upstream delay lands in the le=0.25 bucket and not in le=0.1, for both histograms")
    func histogramBuckets() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(AdminListenerTests.config(upstream: upstream.url)) { proxy in
                let before = try await proxy.scrape()
                let answer = try await http(proxy.url + "/api/slow-head?ms=100")
                #expect(answer.status == 200)
                let after = try await Self.scrape(proxy) {
                    $0.value("corsproxy_request_duration_seconds_count", ["route": "/api"]) >= 1
                }
                for name in ["corsproxy_request_duration_seconds", "corsproxy_upstream_duration_seconds"] {
                    func moved(_ le: String) -> Double {
                        after.value(name + "_bucket", ["route": "/api", "le": le])
                            - before.value(name + "_bucket", ["route": "/api", "le": le])
                    }
                    #expect(moved("0.25") == 1, "\(name)")
                    #expect(moved("0.1") == 0, "\(name)")
                    #expect(moved("+Inf") == 1, "\(name)")
                    #expect(after.value(name + "_count", ["route": "/api"]) == 1, "\(name)")
                    #expect(after.value(name + "_sum", ["route": "/api"]) >= 0.1, "\(name)")
                }
            }
        }
    }

    @Test("10,000 requests from random origins add no series")
    func randomOriginsAddNoSeries() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(AdminListenerTests.config(upstream: upstream.url)) { proxy in
                // One of each kind first, so every series the random ones can touch exists.
                _ = try await http(proxy.url + "/api/echo", headers: ["Origin: https://warm.example.com"])
                _ = try await http(proxy.url + "/api/echo", headers: ["Origin: https://warm.evil.test"])
                let before = try await Self.scrape(proxy) { $0.value("corsproxy_requests_total") >= 2 }
                // One curl process, one connection, 10,000 requests, each with its own origin: half allowed
                // (https://*.example.com), half refused.
                var lines: [String] = []
                for index in 0..<10_000 {
                    let token = UInt64.random(in: 0...UInt64.max)
                    let origin =
                        index.isMultiple(of: 2)
                        ? "https://r\(token).example.com" : "https://r\(token).evil\(index).test"
                    lines.append("url = \"\(proxy.url)/api/echo?n=\(token)\"")
                    lines.append("header = \"Origin: \(origin)\"")
                    lines.append("output = \"/dev/null\"")
                    if index < 9_999 { lines.append("next") }
                }
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID()).conf")
                try Data(lines.joined(separator: "\n").utf8).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                #expect(try await run("/usr/bin/curl", ["-sS", "-K", file.path]) == 0)
                let after = try await Self.scrape(proxy) {
                    $0.value("corsproxy_requests_total") - before.value("corsproxy_requests_total") >= 10_000
                }
                #expect(after.value("corsproxy_requests_total") - before.value("corsproxy_requests_total") == 10_000)
                #expect(Set(after.samples.keys) == Set(before.samples.keys))
                #expect(!after.text.contains("example.com") && !after.text.contains("evil"))
            }
        }
    }

    @Test("upstream errors by kind, injected faults by kind, and the last X-Rate-Limit-Remaining per route")
    func errorsFaultsAndRateLimit() async throws {
        try await withUpstream { upstream in
            let config = """
                {"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"},
                 "routes": [{"prefix": "/api", "upstream": "\(upstream.url)", "stripPrefix": true},
                            {"prefix": "/down", "upstream": "http://127.0.0.1:9"}],
                 "cors": \(defaultCORS), "faults": {"requestControl": true}, "timeouts": {"connect": 2}}
                """
            try await withAdminProxy(config) { proxy in
                #expect(try await http(proxy.url + "/down/x").status == 502)
                _ = try await http(proxy.url + "/api/reset-before-head")
                _ = try await http(proxy.url + "/api/echo?corsproxy-fault=no-allow-origin", headers: [Self.allowed])
                _ = try await http(proxy.url + "/api/echo?corsproxy-fault=no-allow-origin", headers: [Self.allowed])
                _ = try await http(proxy.url + "/api/headers?X-Rate-Limit-Remaining=42")
                _ = try await http(proxy.url + "/api/headers?X-Rate-Limit-Remaining=41")
                let scrape = try await Self.scrape(proxy) { $0.value("corsproxy_requests_total") >= 6 }
                #expect(scrape.value("corsproxy_upstream_errors_total", ["kind": "connect"]) == 1)
                #expect(scrape.value("corsproxy_upstream_errors_total", ["kind": "reset"]) == 1)
                #expect(scrape.value("corsproxy_upstream_errors_total", ["kind": "timeout"]) == 0)
                #expect(scrape.value("corsproxy_faults_injected_total", ["kind": "no-allow-origin"]) == 2)
                #expect(scrape.value("corsproxy_upstream_rate_limit_remaining", ["route": "/api"]) == 41)
                #expect(scrape.value("corsproxy_requests_total", ["route": "/down", "status": "502"]) == 1)
            }
        }
    }
}

import Foundation
import NIOHTTP1
import Testing

@testable import CORSProxy

/// The inspector through the running proxy: the live stream, one exchange's detail, what never leaves (tokens,
/// secret query values), the headers that keep it same-origin, and where it is served.
@Suite("Inspector")
struct InspectorTests {
    static let token = "secret-token-1234abcd"
    static let queryToken = "query-secret-5678wxyz"
    static let csp =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        + "base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

    static func config(upstream: String, admin: Bool = true) -> String {
        testConfig(
            upstream: upstream,
            extra: (admin ? #""admin": {"listen": "127.0.0.1:0"}, "# : "") + #""faults": {"requestControl": true}"#
        )
    }

    /// Three exchanges: allowed with a token in `Authorization` and the query, refused, and an injected fault.
    static func sendExamples(to base: String) async throws {
        let allowed = try await http(
            base + "/echo?access_token=\(Self.queryToken)&page=2",
            headers: ["Origin: http://localhost:3000", "Authorization: Bearer \(Self.token)"]
        )
        #expect(allowed.status == 200)
        _ = try await http(base + "/echo", headers: ["Origin: http://evil.example"])
        _ = try await http(base + "/echo?corsproxy-fault=no-allow-origin", headers: ["Origin: http://localhost:3000"])
    }

    @Test(
        "the stream sends one event per exchange with its fields; the detail redacts; the blocked carry Chrome's message"
    )
    func streamAndDetail() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url)) { proxy in
                let stream = try EventStreamClient(proxy.adminURL + "/inspector/events")
                defer { stream.stop() }
                try await Self.sendExamples(to: proxy.url)
                let events = try await stream.waitFor { $0.count >= 3 }
                for event in events {
                    for field in [
                        "requestId", "time", "method", "path", "origin", "cors", "status", "durationMs", "fault",
                    ] {
                        #expect(
                            event.keys.contains(field) || field == "origin" || field == "fault",
                            "\(field) in \(event)"
                        )
                    }
                    #expect(event["requestId"] is String && event["status"] is Int && event["durationMs"] is Double)
                }
                #expect(stream.headerText.lowercased().contains("content-type: text/event-stream"))
                let byCORS = Dictionary(grouping: events) { $0["cors"] as? String ?? "" }
                #expect(byCORS["allowed"]?.count == 1)
                #expect(byCORS["blocked"]?.count == 2)
                let faulted = try #require(events.first { $0["fault"] as? String == "no-allow-origin" })
                #expect(faulted["cors"] as? String == "blocked")

                let allowed = try #require(byCORS["allowed"]?.first)
                #expect((allowed["path"] as? String)?.contains("access_token=REDACTED") == true)
                let detail = try await http(proxy.adminURL + "/inspector/exchanges/\(allowed["requestId"] as! String)")
                #expect(detail.status == 200)
                let json = try detail.json()
                let requestHeaders = try #require(json["requestHeaders"] as? [[String]])
                #expect(requestHeaders.contains(["Authorization", "Bearer …abcd"]))
                let responseHeaders = try #require(json["responseHeaders"] as? [[String]])
                #expect(responseHeaders.contains(["Access-Control-Allow-Origin", "http://localhost:3000"]))
                #expect((json["curl"] as? String)?.contains("\"Authorization: Bearer $TOKEN\"") == true)
                #expect(
                    (json["doctor"] as? String)?.hasPrefix("corsproxy doctor '\(proxy.url)/echo?access_token=REDACTED")
                        == true
                )
                let decision = try #require(json["decision"] as? [String: Any])
                #expect(decision["rule"] as? String == "http://localhost:3000")

                for event in byCORS["blocked"] ?? [] {
                    let blocked = try await http(
                        proxy.adminURL + "/inspector/exchanges/\(event["requestId"] as! String)"
                    )
                    let block = try #require(try blocked.json()["block"] as? [String: Any])
                    #expect((block["chrome"] as? String)?.contains("has been blocked by CORS policy") == true)
                    #expect(block["firefox"] is String && block["fix"] is String)
                }

                let page = try await http(proxy.adminURL + "/inspector")
                let script = try await http(proxy.adminURL + "/inspector/app.js")
                for text in [stream.text, detail.text, page.text, script.text] {
                    #expect(!text.contains(Self.token) && !text.contains(Self.queryToken))
                }
                let missing = try await http(proxy.adminURL + "/inspector/exchanges/abc-999999")
                #expect(missing.status == 404)
                #expect(try missing.json()["error"] as? String == "unknown_exchange")
            }
        }
    }

    @Test("every inspector path sends the CSP, nosniff, no-referrer and no-store, and no Access-Control-* line")
    func safeHeaders() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url)) { proxy in
                for path in ["", "/app.js", "/app.css", "/exchanges/abc-1", "/nothing"] {
                    let result = try await http(
                        proxy.adminURL + "/inspector" + path,
                        headers: ["Origin: http://localhost:3000"]
                    )
                    Self.expectSafe(result.headers, path: path)
                }
                let stream = try await http(
                    proxy.adminURL + "/inspector/events",
                    headers: ["Origin: http://localhost:3000"],
                    extra: ["--max-time", "1"]
                )
                #expect(stream.status == 200)
                Self.expectSafe(stream.headers, path: "/events")
            }
        }
    }

    static func expectSafe(_ headers: [(name: String, value: String)], path: String) {
        func value(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        #expect(value("content-security-policy") == Self.csp, "\(path)")
        #expect(value("x-content-type-options") == "nosniff", "\(path)")
        #expect(value("referrer-policy") == "no-referrer", "\(path)")
        #expect(value("cache-control") == "no-store", "\(path)")
        #expect(!headers.contains { $0.name.lowercased().hasPrefix("access-control-") }, "\(path): \(headers)")
    }

    @Test("a Host that is not the listener's own nor a loopback name is refused: DNS rebinding fails")
    func foreignHost() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url)) { proxy in
                let rebound = try await http(
                    proxy.adminURL + "/inspector",
                    headers: ["Host: attacker.example:\(proxy.adminPort)"]
                )
                #expect(rebound.status == 421)
                let events = try await http(proxy.adminURL + "/inspector/events", headers: ["Host: attacker.example"])
                #expect(events.status == 421)
                let local = try await http(
                    proxy.adminURL + "/inspector",
                    headers: ["Host: localhost:\(proxy.adminPort)"]
                )
                #expect(local.status == 200)
            }
        }
    }

    @Test("without an admin listener and on loopback, the main port serves it, stream included, without CORS headers")
    func mainPort() async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream: upstream.url, admin: false)) { proxy in
                let page = try await http(
                    proxy.url + "/__corsproxy/inspector",
                    headers: ["Origin: http://localhost:3000"]
                )
                #expect(page.status == 200)
                #expect(page.text.contains("/__corsproxy/inspector/app.js"))
                Self.expectSafe(page.headers, path: "main port page")
                let stream = try EventStreamClient(proxy.url + "/__corsproxy/inspector/events")
                defer { stream.stop() }
                try await Self.sendExamples(to: proxy.url)
                let events = try await stream.waitFor { $0.count >= 3 }
                // The inspector's own requests are not in its list.
                #expect(!events.contains { ($0["path"] as? String)?.hasPrefix("/__corsproxy/inspector") == true })
                #expect(!stream.text.contains(Self.token))
                let rebound = try await http(proxy.url + "/__corsproxy/inspector", headers: ["Host: attacker.example"])
                #expect(rebound.status == 421)
            }
        }
    }

    @Test("with an admin listener the main port answers 404 for the inspector's paths")
    func mainPortWithAdmin() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url)) { proxy in
                for path in ["", "/events", "/app.js"] {
                    let result = try await http(
                        proxy.url + "/__corsproxy/inspector" + path,
                        extra: ["--max-time", "2"]
                    )
                    #expect(result.status == 404, "\(path)")
                }
                #expect(upstream.requests.isEmpty, "nothing of the inspector is forwarded")
            }
        }
    }

    @Test("a proxy listening beyond loopback without an admin listener serves no inspector and keeps no ring")
    func notOnLoopback() throws {
        let config = try ProxyConfig.parse(
            Data(#"{"listen": "0.0.0.0:8787", "routes": [{"prefix": "/", "upstream": "http://127.0.0.1:1"}]}"#.utf8)
        )
        #expect(!Inspector.isServed(by: config))
        let snapshot = ConfigSnapshot(config: config)
        let head = HTTPRequestHead(
            version: .http1_1,
            method: .GET,
            uri: "/__corsproxy/inspector/events",
            headers: ["Host": "127.0.0.1:8787"]
        )
        let plan = RequestPlan(
            head: head,
            cors: snapshot.outcome(for: head, verdict: .absent, origin: nil, route: nil),
            route: snapshot.router.route(for: "/__corsproxy/inspector/events"),
            snapshot: snapshot,
            chain: nil
        )
        guard case .respond(let response, _, _) = plan.action else {
            Issue.record("expected a local answer, got \(plan.action)")
            return
        }
        #expect(response.status == .notFound)
        var loopback = config
        loopback.listen = ListenAddress(host: "127.0.0.1", port: 8787)
        #expect(Inspector.isOnMainPort(loopback))
    }

    @Test("after thousands of exchanges the ring holds its capacity, and the oldest ids are gone")
    func ringAtCapacityThroughTheProxy() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url)) { proxy in
                let client = try KeepAliveClient(port: proxy.proxy.port)
                let count = InspectorRing.defaultCapacity + 1_500
                for index in 0..<count {
                    let response = try client.get("/status/200?n=\(index)", headers: ["Origin: http://localhost:3000"])
                    #expect(response.status == 200)
                }
                let stream = try EventStreamClient(proxy.adminURL + "/inspector/events")
                defer { stream.stop() }
                let events = try await stream.waitFor { $0.count >= InspectorRing.defaultCapacity }
                try await Task.sleep(for: .milliseconds(300))
                #expect(stream.events.count == InspectorRing.defaultCapacity)
                #expect(events.first?["path"] as? String == "/status/200?n=\(count - InspectorRing.defaultCapacity)")
            }
        }
    }
}

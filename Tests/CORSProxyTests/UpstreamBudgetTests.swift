import Foundation
import Testing

/// `routes[].upstreamBudget` against the running proxy and an upstream that counts each token's requests down
/// the way Procore does (``BudgetUpstream``). Timed: the first test waits for a real window of a few seconds to
/// reset.
@Suite("Upstream budget: through the proxy")
struct UpstreamBudgetTests {
    static let origin = "http://localhost:3000"

    static func config(upstream: String, minimumRemaining: Int) -> String {
        """
        {"listen": "127.0.0.1:0",
         "routes": [{"prefix": "/", "upstream": "\(upstream)", "upstreamBudget": {"minimumRemaining": \(minimumRemaining)}},
                    {"prefix": "/unbudgeted/", "upstream": "\(upstream)", "stripPrefix": true}],
         "cors": {"allowedOrigins": ["\(origin)"], "allowedHeaders": ["Authorization"],
                  "exposedHeaders": ["X-Rate-Limit-Remaining"], "allowCredentials": true}}
        """
    }

    static func get(_ url: String, token: String?) async throws -> HTTPResult {
        try await http(url, headers: ["Origin: \(Self.origin)"] + (token.map { ["Authorization: Bearer \($0)"] } ?? []))
    }

    static func withBudgetUpstream<T>(
        limit: Int,
        windowSeconds: Int64,
        _ body: (BudgetUpstream) async throws -> T
    ) async throws -> T {
        try await withStarted(BudgetUpstream.start(limit: limit, windowSeconds: windowSeconds), body)
    }

    @Test("at the minimum: 429 with CORS and Retry-After until the reset, nothing upstream, then requests flow again")
    func untilTheReset() async throws {
        let secret = "budget-secret-\(UUID().uuidString)"
        let other = "other-secret-\(UUID().uuidString)"
        try await Self.withBudgetUpstream(limit: 6, windowSeconds: 4) { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url, minimumRemaining: 2)) { proxy in
                var answers: [HTTPResult] = []
                while answers.last?.status != 429, answers.count < 10 {
                    answers.append(try await Self.get(proxy.url + "/rest/v1.0/me", token: secret))
                }
                // 6 - 2: the token keeps its last 2 requests.
                #expect(answers.map(\.status) == [200, 200, 200, 200, 429])
                let spent = upstream.requests(of: "Bearer \(secret)")
                #expect(spent.map(\.remaining) == [5, 4, 3, 2])
                let reset = try #require(spent.last?.reset)

                var refusals = 0
                var otherRequests = 0
                // Until the upstream's reset: every request of the token is answered by the proxy, none reaches
                // the upstream, and another token is served meanwhile.
                while Date.now.timeIntervalSince1970 < Double(reset) - 0.25 {
                    let sent = Date.now.timeIntervalSince1970
                    let refused = try await Self.get(proxy.url + "/rest/v1.0/me", token: secret)
                    let answered = Date.now.timeIntervalSince1970
                    guard refused.status == 429 else {
                        Issue.record("status \(refused.status) at \(answered), reset \(reset)")
                        break
                    }
                    refusals += 1
                    let body = try refused.json()
                    #expect(body["error"] as? String == "upstream_budget_exhausted")
                    #expect((body["reset"] as? Int).map(Int64.init) == reset)
                    #expect(body["remaining"] as? Int == 2)
                    let retryAfter = try #require(refused.header("Retry-After").flatMap { Int($0) })
                    #expect(retryAfter >= 1)
                    // The proxy rounds the seconds left up at some instant between `sent` and `answered`, so the
                    // bounds come from both ends of the request (a slow run, e.g. under TSan, widens the span).
                    let left = (atAnswer: Double(reset) - answered, atSend: Double(reset) - sent)
                    #expect(
                        Double(retryAfter) >= left.atAnswer && Double(retryAfter) <= left.atSend + 1,
                        "Retry-After \(retryAfter), \(left.atAnswer)…\(left.atSend) s left"
                    )
                    #expect(refused.header("Access-Control-Allow-Origin") == Self.origin)
                    #expect(refused.header("Access-Control-Allow-Credentials") == "true")
                    #expect(refused.header("Vary") == "Origin")
                    let exposed = refused.header("Access-Control-Expose-Headers")?.lowercased() ?? ""
                    #expect(exposed.contains("retry-after"), "\(exposed)")
                    if otherRequests < 3 {
                        // Within its own budget (6 - 2).
                        #expect(try await Self.get(proxy.url + "/rest/v1.0/me", token: other).status == 200)
                        otherRequests += 1
                    }
                    try await Task.sleep(for: .milliseconds(150))
                }
                #expect(refusals >= 3, "the window passed too soon to test it")
                #expect(upstream.requests(of: "Bearer \(secret)").count == 4)
                #expect(otherRequests == 3 && upstream.requests(of: "Bearer \(other)").count == 3)

                // Past the reset the token's requests go upstream again, into a new window.
                let wait = Double(reset) + 0.1 - Date.now.timeIntervalSince1970
                if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
                let after = try await Self.get(proxy.url + "/rest/v1.0/me", token: secret)
                #expect(after.status == 200)
                #expect(after.header("X-Rate-Limit-Remaining") == "5")
                #expect(upstream.requests(of: "Bearer \(secret)").count == 5)

                // The refusals are counted and logged; the token appears nowhere.
                let totalRefusals = Double(refusals + 1)
                let deadline = ContinuousClock.now + .seconds(5)
                var scrape = try await proxy.scrape()
                while scrape.value("corsproxy_rate_limited_total", ["limit": "upstream_budget"]) < totalRefusals,
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(20))
                    scrape = try await proxy.scrape()
                }
                #expect(scrape.value("corsproxy_rate_limited_total", ["limit": "upstream_budget"]) == totalRefusals)
                let logged = try await proxy.proxy.logLine(containing: "error=upstream_budget_exhausted")
                #expect(logged.contains(" status=429 "))
                let config = try await http(proxy.adminURL + "/config")
                #expect(config.text.contains("\"minimumRemaining\":2"), "\(config.text)")
                for text in proxy.proxy.logLines + [config.text, scrape.text] {
                    #expect(!text.contains(secret) && !text.contains(other), "\(text)")
                }
            }
        }
    }

    @Test("concurrent requests of one token: no more reach the upstream than the budget has above the minimum")
    func concurrentRequests() async throws {
        try await Self.withBudgetUpstream(limit: 10, windowSeconds: 60) { upstream in
            try await withProxy(Self.config(upstream: upstream.url, minimumRemaining: 2)) { proxy in
                #expect(try await Self.get(proxy.url + "/first", token: "burst").status == 200)
                let statuses = try await Self.parallel(proxy.url + "/burst", token: "burst", count: 20)
                #expect(statuses.count == 20)
                // 9 left after the first, 2 kept: 7 of the burst go upstream, whatever their order.
                #expect(statuses.filter { $0 == 200 }.count == 7, "\(statuses)")
                #expect(statuses.filter { $0 == 429 }.count == 13, "\(statuses)")
                #expect(upstream.requests(of: "Bearer burst").count == 8)
                #expect(upstream.requests(of: "Bearer burst").map(\.remaining).min() == 2)
            }
        }
    }

    @Test("requests without Authorization, and routes without upstreamBudget, are not budgeted")
    func notBudgeted() async throws {
        try await Self.withBudgetUpstream(limit: 3, windowSeconds: 60) { upstream in
            try await withProxy(Self.config(upstream: upstream.url, minimumRemaining: 1)) { proxy in
                // No Authorization: all reach the upstream, which answers 429 itself once its budget is gone.
                var anonymous: [Int] = []
                for _ in 0..<5 { anonymous.append(try await Self.get(proxy.url + "/x", token: nil).status) }
                #expect(anonymous == [200, 200, 200, 429, 429])
                #expect(upstream.requests(of: "").count == 5)
                // A token at its minimum on the budgeted route still reaches the upstream on the other route.
                var budgeted: [Int] = []
                for _ in 0..<3 { budgeted.append(try await Self.get(proxy.url + "/x", token: "t").status) }
                #expect(budgeted == [200, 200, 429])
                #expect(try await Self.get(proxy.url + "/unbudgeted/x", token: "t").status == 200)
                #expect(upstream.requests(of: "Bearer t").count == 3)
            }
        }
    }

    @Test("a reload keeps every token's window, and a new minimumRemaining applies to it at once")
    func survivesReload() async throws {
        try await Self.withBudgetUpstream(limit: 5, windowSeconds: 60) { upstream in
            let config = Self.config(upstream: upstream.url, minimumRemaining: 2)
            try await withReloadableProxy(config) { proxy in
                let url = proxy.running.url + "/x"
                var statuses: [Int] = []
                for _ in 0..<4 { statuses.append(try await Self.get(url, token: "kept").status) }
                #expect(statuses == [200, 200, 200, 429])
                // Another snapshot, the same budget: still refused.
                try proxy.write(config.replacingOccurrences(of: #""allowCredentials": true"#, with: #""maxAge": 60"#))
                let first = await proxy.reloader.reload()
                #expect(first.outcome == .applied && first.version == 2)
                statuses.append(try await Self.get(url, token: "kept").status)
                // Remaining 2, minimum now 1: one more, then 429 again, from the window counted before the reloads.
                try proxy.write(Self.config(upstream: upstream.url, minimumRemaining: 1))
                let second = await proxy.reloader.reload()
                #expect(second.outcome == .applied && second.version == 3)
                for _ in 0..<2 { statuses.append(try await Self.get(url, token: "kept").status) }
                #expect(statuses == [200, 200, 200, 429, 429, 200, 429])
                #expect(upstream.requests(of: "Bearer kept").map(\.remaining) == [4, 3, 2, 1])
            }
        }
    }

    /// `count` concurrent GETs with curl's `--parallel`; their statuses.
    static func parallel(_ url: String, token: String, count: Int) async throws -> [Int] {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("corsproxy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let arguments =
            [
                "-sS", "--parallel", "--parallel-immediate", "--parallel-max", "\(count)", "-w", "%{http_code}\\n",
                "-H", "Authorization: Bearer \(token)", "-H", "Origin: \(Self.origin)",
            ] + (0..<count).flatMap { ["-o", "/dev/null", "\(url)?n=\($0)"] }
        try await run("/usr/bin/curl", arguments, stdout: .file(output.path))
        return try String(contentsOf: output, encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
    }
}

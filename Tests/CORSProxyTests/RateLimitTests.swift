import Foundation
import Testing

@testable import CORSProxy

/// `limits.rateLimit` through the running proxy and a real upstream, on the real clock: what is admitted at a
/// steady overload, what a refusal carries, that preflights are free, and that one key's overload leaves another
/// key alone. Timed: it runs after the rest of the suite (Makefile TIMED_SUITES).
@Suite("Rate limit through the proxy", .serialized)
struct RateLimitTests {
    static func config(upstream: String, rate: Int, burst: Int, exposed: String = #"["Total"]"#) -> String {
        testConfig(
            upstream: upstream,
            cors: """
                {"allowedOrigins": ["http://localhost:3000", "http://127.0.0.1:*"],
                 "exposedHeaders": \(exposed), "allowCredentials": true}
                """,
            extra: #""limits": {"rateLimit": {"key": "origin", "rate": \#(rate), "burst": \#(burst)}}"#
        )
    }

    /// What one paced run saw.
    struct Run: Sendable {
        var admitted = 0
        var refused: [KeepAliveClient.Response] = []
        var preflights: [Int] = []
        /// Seconds each actual request took.
        var latencies: [Double] = []
        /// Seconds from sending the first actual request to sending the last: the schedule's span, or longer when a
        /// slow run (e.g. under TSan) fell behind it.
        var span = 0.0

        /// Whether `admitted` is what a bucket of `rate` per second and bursts of `burst` admits over `span`, ± 2.
        func admits(rate: Double, burst: Double) -> Bool {
            abs(Double(self.admitted) - (burst + rate * self.span)) <= 2
        }
    }

    /// Sends `perSecond` GETs a second for `seconds` from `origin` on one connection, each at its own moment (not
    /// back to back); with `preflightEvery`, also a preflight before every that-many-th request.
    static func paced(
        port: Int,
        origin: String,
        perSecond: Int,
        seconds: Double,
        preflightEvery: Int? = nil
    ) async throws -> Run {
        try await offCooperativePool {
            let client = try KeepAliveClient(port: port)
            var run = Run()
            let start = Date()
            var firstSent: Date?
            let count = Int(Double(perSecond) * seconds)
            for index in 0..<count {
                let due = start.addingTimeInterval(Double(index) / Double(perSecond))
                let wait = due.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                if let every = preflightEvery, index % every == 0 {
                    let preflight = try client.get(
                        "/status/200",
                        headers: ["Origin: \(origin)", "Access-Control-Request-Method: PUT"],
                        method: "OPTIONS"
                    )
                    run.preflights.append(preflight.status)
                }
                let sent = Date()
                if let firstSent { run.span = sent.timeIntervalSince(firstSent) } else { firstSent = sent }
                let response = try client.get("/status/200", headers: ["Origin: \(origin)"])
                run.latencies.append(Date().timeIntervalSince(sent))
                if response.status == 200 {
                    run.admitted += 1
                } else {
                    run.refused.append(response)
                }
            }
            return run
        }
    }

    @Test(
        "at 10/s with bursts of 20, 100 requests a second for 10 s admit 20 + 10/s over the run ± 2 (120 on schedule); every 429 can be read by the page"
    )
    func steadyOverload() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url, rate: 10, burst: 20)) { proxy in
                let origin = "http://localhost:3000"
                let run = try await Self.paced(
                    port: proxy.proxy.port,
                    origin: origin,
                    perSecond: 100,
                    seconds: 10,
                    preflightEvery: 10
                )
                print("rate limit: admitted \(run.admitted) of 1000 at 100/s over \(run.span) s (rate 10, burst 20)")
                #expect(run.admits(rate: 10, burst: 20), "admitted \(run.admitted) of 1000 over \(run.span) s")
                #expect(run.admitted + run.refused.count == 1000)
                #expect(run.preflights.count == 100 && run.preflights.allSatisfy { $0 == 204 }, "preflights never 429")
                for response in run.refused {
                    #expect(response.status == 429)
                    let retryAfter = Int(response.header("Retry-After") ?? "") ?? 0
                    #expect(retryAfter >= 1)
                    #expect(response.header("Access-Control-Allow-Origin") == origin)
                    #expect(response.header("Access-Control-Allow-Credentials") == "true")
                    #expect(response.header("Vary") == "Origin")
                    let exposed = (response.header("Access-Control-Expose-Headers") ?? "").lowercased()
                    #expect(exposed == "total, retry-after", "config's list plus Retry-After")
                    #expect(response.body.contains(#""error":"rate_limited""#))
                }
                let refused = run.refused.count
                let scrape = Scrape(text: proxy.metrics!.registry.emitToString())
                #expect(scrape.samples[#"corsproxy_rate_limited_total{limit="rate"}"#] == Double(refused))
                let line = try await proxy.proxy.logLine(containing: "error=rate_limited")
                #expect(
                    line.contains(" limit=rate ") && line.contains(" retryAfter=1 ") && line.contains(" status=429 ")
                )
                #expect(upstream.requests.count == run.admitted, "a refused request never reaches the upstream")
            }
        }
    }

    @Test("a key at ten times its limit does not slow a key at half of it")
    func keysAreIsolated() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url, rate: 20, burst: 20)) { proxy in
                let port = proxy.proxy.port
                let quiet = "http://127.0.0.1:1111"
                let alone = try await Self.paced(port: port, origin: quiet, perSecond: 10, seconds: 4)
                async let noisy = Self.paced(port: port, origin: "http://127.0.0.1:2222", perSecond: 200, seconds: 4)
                async let beside = Self.paced(port: port, origin: "http://127.0.0.1:3333", perSecond: 10, seconds: 4)
                let (loud, shared) = try await (noisy, beside)
                #expect(alone.admitted == 40 && shared.admitted == 40, "the quiet key is never refused")
                #expect(loud.admits(rate: 20, burst: 20), "20 + 20/s × \(loud.span) s of the noisy key's 800")
                let (before, after) = (Self.percentile(alone.latencies, 0.9), Self.percentile(shared.latencies, 0.9))
                print(
                    "rate limit isolation: quiet key p90 \(before * 1000) ms alone, \(after * 1000) ms beside a noisy key admitted \(loud.admitted) of 800"
                )
                #expect(
                    after < max(before * 5, 0.025),
                    "p90 \(after * 1000) ms beside the noise, \(before * 1000) ms alone"
                )
            }
        }
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}

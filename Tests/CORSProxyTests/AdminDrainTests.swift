import Foundation
import Testing

/// Readiness and the drain, on `corsproxy serve` as its own process.
@Suite("Admin readiness and drain")
struct AdminDrainTests {
    /// The status of `GET path` on 127.0.0.1:`port`, over a socket of the test's own (no curl process to start,
    /// so the answer's timing is the proxy's); 0 when the connection fails.
    static func status(port: Int, _ path: String) async -> Int {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        guard let answer = try? await rawExchange(port: port, request, timeout: .seconds(2)) else { return 0 }
        return Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test(
        "SIGTERM: /readyz turns 503 within 100 ms while the admin listener keeps answering, the slow request in flight completes with 200, then exit 0"
    )
    func sigtermDrains() async throws {
        try await withUpstream { upstream in
            let config = AdminListenerTests.config(upstream: upstream.url, extra: #""timeouts": {"drain": 15}"#)
            try await withProxyProcess(configJSON: config, hasAdminListener: true) { proxy in
                let admin = try #require(proxy.adminPort)
                #expect(await Self.status(port: admin, "/readyz") == 200)
                async let inFlight = http(proxy.url + "/api/slow-head?ms=5000")
                try await upstream.waitFor("the request to reach the upstream") { !$0.requests.isEmpty }
                // Signal and poll from one blocking loop on a thread of its own, so the time measured is the
                // proxy's, not the wait for a turn on the test process's busy cooperative pool.
                let pid = proxy.pid
                let (readyz, turned) = try await offCooperativePool { () -> (Int, Duration) in
                    let signalled = ContinuousClock.now
                    kill(pid, SIGTERM)
                    var status = 0
                    while ContinuousClock.now - signalled < .seconds(2) {
                        let request = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                        let answer = (try? blockingRawExchange(port: admin, request, timeout: .seconds(1))) ?? ""
                        status = Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
                        if status == 503 { break }
                        usleep(1000)
                    }
                    return (status, ContinuousClock.now - signalled)
                }
                #expect(readyz == 503)
                #expect(turned < .milliseconds(100), "/readyz turned 503 after \(turned)")
                // Draining, not dead: liveness and metrics still answer, and show the request in flight.
                #expect(await Self.status(port: admin, "/healthz") == 200)
                let metrics = try await http(proxy.adminURL + "/metrics")
                #expect(Scrape(text: metrics.text).value("corsproxy_requests_in_flight") == 1)
                let result = try await inFlight
                #expect(result.status == 200)
                #expect(result.text == "slow")
                #expect(try await proxy.waitForExit(timeout: .seconds(15)) == 0)
            }
        }
    }
}

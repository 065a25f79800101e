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

    /// What a client saw around a SIGTERM with a lame duck, timed from the signal.
    struct LameDuckRun: Sendable {
        var readyz = 0
        /// A connection opened after the 503, and a request on one kept alive from before the signal.
        var fresh: KeepAliveClient.Response?
        var kept: KeepAliveClient.Response?
        var servedBy: Duration = .zero
        /// When a new connection was first refused.
        var refusedAfter: Duration?
    }

    @Test(
        "timeouts.lameDuck: after SIGTERM /readyz is 503 at once, yet new and kept-alive connections are served as before until the lame duck ends; then the drain, and exit 0"
    )
    func lameDuck() async throws {
        try await withUpstream { upstream in
            let extra = #""timeouts": {"drain": 5, "lameDuck": 2}"#
            let config = AdminListenerTests.config(upstream: upstream.url, extra: extra)
            try await withProxyProcess(configJSON: config, hasAdminListener: true) { proxy in
                let (admin, port, pid) = (try #require(proxy.adminPort), proxy.port, proxy.pid)
                let run = try await offCooperativePool { () throws -> LameDuckRun in
                    var run = LameDuckRun()
                    let kept = try KeepAliveClient(port: port)
                    guard try kept.get("/api/echo").status == 200 else { throw TestFailure("no 200 before SIGTERM") }
                    let signalled = ContinuousClock.now
                    kill(pid, SIGTERM)
                    while ContinuousClock.now - signalled < .seconds(1), run.readyz != 503 {
                        let request = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                        let answer = (try? blockingRawExchange(port: admin, request, timeout: .seconds(1))) ?? ""
                        run.readyz = Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
                        if run.readyz != 503 { usleep(1000) }
                    }
                    run.fresh = try? KeepAliveClient(port: port).get("/api/echo")
                    run.kept = try? kept.get("/api/echo")
                    run.servedBy = ContinuousClock.now - signalled
                    while ContinuousClock.now - signalled < .seconds(6) {
                        if (try? KeepAliveClient(port: port, timeout: .seconds(1))) == nil {
                            run.refusedAfter = ContinuousClock.now - signalled
                            break
                        }
                        usleep(20_000)
                    }
                    return run
                }
                #expect(run.readyz == 503)
                #expect(run.fresh?.status == 200, "a connection opened in the lame duck is accepted and served")
                #expect(run.kept?.status == 200, "a kept-alive connection serves on")
                #expect(run.kept?.header("Connection")?.lowercased() != "close")
                #expect(run.servedBy < .seconds(2), "served after \(run.servedBy): not within the lame duck")
                let refused = try #require(run.refusedAfter, "still accepting 6 s after SIGTERM")
                #expect(refused >= .seconds(2) && refused < .seconds(4), "stopped accepting \(refused) after SIGTERM")
                #expect(try await proxy.waitForExit(timeout: .seconds(10)) == 0)
                let stderr = proxy.stderr
                #expect(
                    stderr.contains("lame duck: /readyz is 503; serving on for 2.0 seconds, then draining"),
                    "\(stderr)"
                )
            }
        }
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CORSProxy

/// `cors.mode: "report-only"`: everyone is served; what enforcing would block is counted and logged.
@Suite("Report-only mode")
struct ReportOnlyTests {
    static func config(_ upstream: String) -> String {
        testConfig(
            upstream: upstream,
            cors: """
                {"mode": "report-only", "allowedOrigins": ["http://localhost:3000"],
                 "allowedHeaders": ["Authorization"], "allowCredentials": true}
                """
        )
    }

    @Test("a mix of allowed and refused origins all get CORS headers; the report counts them reason by reason")
    func mixed() async throws {
        try await withUpstream { upstream in
            try await withProxy(Self.config(upstream.url)) { proxy in
                for _ in 0..<3 {
                    let allowed = try await http(proxy.url + "/echo", headers: ["Origin: http://localhost:3000"])
                    #expect(allowed.header("Access-Control-Allow-Origin") == "http://localhost:3000")
                }
                for _ in 0..<2 {
                    let refused = try await http(proxy.url + "/echo", headers: ["Origin: http://evil.example"])
                    #expect(
                        refused.status == 200 && refused.header("Access-Control-Allow-Origin") == "http://evil.example"
                    )
                }
                let preflight = try await http(
                    proxy.url + "/echo",
                    method: "OPTIONS",
                    headers: [
                        "Origin: http://localhost:3000", "Access-Control-Request-Method: PROPFIND",
                        "Access-Control-Request-Headers: x-custom",
                    ]
                )
                #expect(preflight.status == 204)
                #expect(preflight.header("Access-Control-Allow-Methods")?.contains("PROPFIND") == true)
                #expect(preflight.header("Access-Control-Allow-Headers")?.contains("x-custom") == true)
                let header = try await http(
                    proxy.url + "/echo",
                    method: "OPTIONS",
                    headers: [
                        "Origin: http://localhost:3000", "Access-Control-Request-Method: GET",
                        "Access-Control-Request-Headers: x-custom",
                    ]
                )
                #expect(header.header("Access-Control-Allow-Headers")?.contains("x-custom") == true)
                // Not a serialized origin: never served, in either mode.
                let malformed = try await http(proxy.url + "/echo", headers: ["Origin: http://evil.example/"])
                #expect(malformed.status == 403)

                let report = try await http(proxy.url + "/__corsproxy/report").json()
                #expect(report["mode"] as? String == "report-only")
                let origins = try #require(report["origins"] as? [[String: Any]])
                let byOrigin = Dictionary(uniqueKeysWithValues: origins.map { ($0["origin"] as? String ?? "", $0) })
                let local = try #require(byOrigin["http://localhost:3000"])
                #expect(local["requests"] as? Int == 5 && local["wouldBlock"] as? Int == 2)
                #expect(local["reasons"] as? [String: Int] == ["method-not-allowed": 1, "header-not-allowed": 1])
                let evil = try #require(byOrigin["http://evil.example"])
                #expect(evil["requests"] as? Int == 2 && evil["wouldBlock"] as? Int == 2)
                #expect(evil["reasons"] as? [String: Int] == ["origin-not-allowed": 2])
                let line = try await proxy.logLine(containing: " origin=http://evil.example")
                #expect(line.contains(" wouldBlock=origin-not-allowed"), "\(line)")
                #expect(
                    line.contains(
                        " wouldBlockChrome=Access to fetch at 'http://127.0.0.1:\(proxy.port)/echo' from origin 'http://evil.example' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource."
                    ),
                    "\(line)"
                )
                #expect(!line.contains(" chrome="), "the browser itself blocks nothing")
            }
        }
    }

    @Test("10,000 random origins give at most 1,001 report entries, every request counted")
    func boundedOrigins() throws {
        let report = OriginReport()
        let snapshot = ConfigSnapshot(
            config: try ProxyConfig.parse(Data(Self.config("http://127.0.0.1:1").utf8))
        )
        for index in 0..<10_000 {
            let origin = "https://app\(index).example.com"
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x")
            head.headers.add(name: "Origin", value: origin)
            let cors = snapshot.outcome(
                for: head,
                verdict: snapshot.policy.judge(origin: origin),
                origin: Origin(origin),
                route: nil
            )
            let exchange = Exchange(id: index, head: head, snapshot: snapshot, cors: cors, started: .now())
            exchange.status = 200
            report.record(exchange.record(now: .now(), note: nil))
        }
        let body = report.json(mode: .reportOnly)
        let data = Data(body.readableBytesView)
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let origins = try #require(json?["origins"] as? [[String: Any]])
        #expect(origins.count == 1001)
        #expect(origins.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) } == 10_000)
        #expect(origins.first?["origin"] as? String == "other" && origins.first?["requests"] as? Int == 9000)
    }
}

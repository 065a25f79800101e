import Foundation
import Testing

/// The access log as `corsproxy serve` writes it: the README's text example, and JSON lines for log shipping.
@Suite("Access log")
struct AccessLogTests {
    static func config(upstream: String) -> String {
        """
        {"routes": [{"prefix": "/", "upstream": "\(upstream)"}],
         "cors": {"allowedOrigins": ["http://localhost:3000"], "allowedHeaders": ["Authorization"], "allowCredentials": true}}
        """
    }

    /// The README's three example requests.
    static func sendExamples(to proxy: ProxyProcess) async throws {
        _ = try await http(proxy.url + "/echo?company_id=8", headers: ["Origin: http://localhost:3000"])
        _ = try await http(
            proxy.url + "/rest/v1.0/projects/1002",
            method: "OPTIONS",
            headers: [
                "Origin: http://localhost:3000", "Access-Control-Request-Method: PUT",
                "Access-Control-Request-Headers: authorization,x-custom",
            ]
        )
        _ = try await http(proxy.url + "/rest/v1.0/me", headers: ["Origin: https://evil.example"])
    }

    /// Times and durations (and the padding before a duration) vary; everything else must be as shown.
    static func normalised(_ lines: [Substring]) -> [String] {
        lines.map {
            String($0)
                .replacing(/^\d\d:\d\d:\d\d\.\d\d\d/, with: "HH:MM:SS.mmm")
                .replacing(#/ +\d+ ms /#, with: " N ms ")
        }
    }

    static var readmeExample: [Substring] {
        get throws {
            let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md")
            let text = try String(contentsOf: readme, encoding: .utf8)
            let section = try #require(text.firstRange(of: "### Access log"))
            let start = try #require(text[section.upperBound...].firstRange(of: "```text\n"))
            let end = try #require(text[start.upperBound...].firstRange(of: "```"))
            return text[start.upperBound..<end.lowerBound].split(separator: "\n")
        }
    }

    @Test("text (the default): the README's example is what the proxy prints")
    func textMatchesTheReadme() async throws {
        try await withUpstream { upstream in
            try await withProxyProcess(configJSON: Self.config(upstream: upstream.url)) { proxy in
                try await Self.sendExamples(to: proxy)
                #expect(try await proxy.stop() == 0)
                let printed = proxy.stderr.split(separator: "\n").filter {
                    $0.first?.isNumber == true || $0.hasPrefix(" ")
                }
                #expect(Self.normalised(printed) == Self.normalised(try Self.readmeExample), "\(proxy.stderr)")
            }
        }
    }

    @Test("json: one object per line with SPEC's fields, the browsers' messages where they block, and no token")
    func jsonLines() async throws {
        let token = "eyJhbGciOiJFUzUxMiJ9.c2VjcmV0LWpzb24.c2lnbmF0dXJl"
        try await withUpstream { upstream in
            try await withProxyProcess(
                configJSON: Self.config(upstream: upstream.url),
                arguments: ["--log-format", "json"]
            ) { proxy in
                _ = try await http(
                    proxy.url + "/echo?access_token=\(token)&page=2",
                    headers: ["Origin: http://localhost:3000", "Authorization: Bearer \(token)"]
                )
                _ = try await http(proxy.url + "/rest/v1.0/me", headers: ["Origin: https://evil.example"])
                #expect(try await proxy.stop() == 0)
                #expect(!proxy.stderr.contains(token))
                let objects = try proxy.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
                    try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
                }
                try #require(objects.count == 2)
                let required = [
                    "time", "level", "requestId", "client", "method", "target", "route", "status", "upstreamStatus",
                    "durationMs", "bytesOut", "cors",
                ]
                for object in objects {
                    #expect(Set(required).isSubset(of: object.keys), "\(object.keys.sorted())")
                }
                let (served, refused) = (objects[0], objects[1])
                #expect(served["target"] as? String == "/echo?access_token=REDACTED&page=2")
                #expect(served["route"] as? String == "/")
                #expect(served["configVersion"] as? Int == 1)
                #expect(served["status"] as? Int == 200 && served["upstreamStatus"] as? Int == 200)
                #expect(served["cors"] as? String == "allowed" && served["chrome"] == nil)
                #expect((served["bytesOut"] as? Int ?? 0) > 0)
                #expect(refused["cors"] as? String == "refused" && refused["error"] as? String == "origin_not_allowed")
                #expect(refused["route"] is NSNull && refused["upstreamStatus"] is NSNull)
                #expect(
                    (refused["chrome"] as? String)?.hasSuffix(
                        "No 'Access-Control-Allow-Origin' header is present on the requested resource."
                    ) == true
                )
                #expect((refused["firefox"] as? String)?.contains("Status code: 403.") == true)
                #expect((served["time"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
            }
        }
    }

    @Test("--log-level warning: no access log; --log-format refuses what it does not know")
    func offAndBadFormat() async throws {
        try await withUpstream { upstream in
            try await withProxyProcess(
                configJSON: Self.config(upstream: upstream.url),
                arguments: ["--log-level", "warning"]
            ) { proxy in
                _ = try await http(proxy.url + "/echo", headers: ["Origin: http://localhost:3000"])
                #expect(try await proxy.stop() == 0)
                #expect(!proxy.stderr.contains("/echo"), "\(proxy.stderr)")
            }
        }
        let refused = try await CommandLineTests.corsproxy(["serve", "--log-format", "xml"])
        #expect(refused.status != 0 && refused.stderr.contains("--log-format: \"xml\" is neither text nor json"))
    }
}

import Foundation
import Testing

/// Upstream HTTP/2: one multiplexed connection for a burst of concurrent requests, against Debian's nginx.
@Suite("HTTP/2 to the upstream")
struct HTTP2Tests {
    static let server = """
        listen 127.0.0.1:PORT ssl http2;
        ssl_certificate CERT;
        ssl_certificate_key KEY;
        location / {
            add_header X-Connection $connection always;
            add_header X-Protocol $server_protocol always;
            return 200 '{"ok":true}';
        }
        """

    /// Sends `count` concurrent requests through the proxy (curl --parallel) and returns each response's
    /// `X-Connection` and `X-Protocol` from nginx.
    static func burst(_ proxy: RunningProxy, count: Int) async throws -> [(connection: String, protocol: String)] {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "corsproxy-burst-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let urls = (0..<count).flatMap { ["-o", "/dev/null", "\(proxy.url)/item/\($0)"] }
        let arguments =
            [
                "-sS", "--parallel", "--parallel-immediate", "--parallel-max", "\(count)", "-w",
                "%header{x-connection} %header{x-protocol} %{http_code}\\n",
            ] + urls
        try await run("/usr/bin/curl", arguments, stdout: .file(output))
        let text = try String(contentsOfFile: output, encoding: .utf8)
        return text.split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return (String(parts.first ?? ""), String(parts.dropFirst().first ?? ""))
        }
    }

    @Test("with http2: true, concurrent requests share one upstream connection per curl loop", arguments: [1, 2])
    func multiplexed(curlLoops: Int) async throws {
        let nginx = try await Nginx.start(server: Self.server, tls: true)
        defer { nginx.stop() }
        let route = "\"http2\": true, \"caFile\": \"\(nginx.certificate)\""
        try await withProxy(testConfig(upstream: nginx.url, route: route), curlLoops: curlLoops) { proxy in
            #expect(try await http(proxy.url + "/warm-up").status == 200)
            let responses = try await Self.burst(proxy, count: 20)
            #expect(responses.count == 20)
            #expect(responses.allSatisfy { $0.protocol == "HTTP/2.0" })
            #expect(
                (1...curlLoops).contains(Set(responses.map(\.connection)).count),
                "\(responses.map(\.connection)) \(proxy.logLines.filter { !$0.contains("status=200") })"
            )
        }
    }

    @Test("without it, the same upstream gets HTTP/1.1")
    func http1ByDefault() async throws {
        let nginx = try await Nginx.start(server: Self.server, tls: true)
        defer { nginx.stop() }
        try await withProxy(testConfig(upstream: nginx.url, route: "\"caFile\": \"\(nginx.certificate)\"")) { proxy in
            let responses = try await Self.burst(proxy, count: 5)
            #expect(responses.count == 5)
            #expect(responses.allSatisfy { $0.protocol == "HTTP/1.1" })
        }
    }

    @Test(
        "an https upstream with a certificate for another host, or an expired one → 502 naming the TLS cause",
        arguments: [
            (TestCertificate.wrongHost, "subject name"), (TestCertificate.expired, "expired"),
        ]
    )
    func badCertificates(certificate: TestCertificate, cause: String) async throws {
        let nginx = try await Nginx.start(server: Self.server, tls: true, certificate: certificate)
        defer { nginx.stop() }
        try await withProxy(testConfig(upstream: nginx.url, route: "\"caFile\": \"\(nginx.certificate)\"")) { proxy in
            let result = try await http(proxy.url + "/x", headers: ["Origin: http://localhost:3000"])
            #expect(result.status == 502)
            #expect(result.header("Access-Control-Allow-Origin") == "http://localhost:3000")
            let json = try result.json()
            #expect(json["error"] as? String == "upstream_error")
            #expect((json["cause"] as? String)?.contains(cause) == true, "\(json)")
        }
    }

    @Test("an https upstream whose certificate is not trusted → 502 naming the TLS cause")
    func untrustedCertificate() async throws {
        let nginx = try await Nginx.start(server: Self.server, tls: true)
        defer { nginx.stop() }
        try await withProxy(testConfig(upstream: nginx.url)) { proxy in
            let result = try await http(proxy.url + "/x", headers: ["Origin: http://localhost:3000"])
            #expect(result.status == 502)
            #expect(result.header("Access-Control-Allow-Origin") == "http://localhost:3000")
            let json = try result.json()
            #expect(json["error"] as? String == "upstream_error")
            #expect((json["cause"] as? String)?.contains("certificate") == true, "\(json)")
        }
    }
}

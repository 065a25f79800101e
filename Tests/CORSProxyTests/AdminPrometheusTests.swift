import Foundation
import Testing

/// A real Prometheus server scrapes the admin listener, and its query API returns what the proxy counted.
@Suite("Admin metrics scraped by Prometheus")
struct AdminPrometheusTests {
    static let prometheus = "/usr/bin/prometheus"

    /// A TCP port free on 127.0.0.1 a moment ago: bound to port 0, read back, closed.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestFailure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("Prometheus scrapes /metrics and its query API returns corsproxy_requests_total")
    func prometheusScrapes() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.prometheus), "apt-get install prometheus")
        try await withUpstream { upstream in
            try await withAdminProxy(AdminListenerTests.config(upstream: upstream.url)) { proxy in
                for _ in 0..<3 { _ = try await http(proxy.url + "/api/echo", headers: [AdminMetricsTests.allowed]) }
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prom-\(UUID())")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let config = directory.appendingPathComponent("prometheus.yml")
                try Data(
                    """
                    global:
                      scrape_interval: 1s
                      evaluation_interval: 1s
                    scrape_configs:
                      - job_name: corsproxy
                        static_configs:
                          - targets: ["127.0.0.1:\(proxy.adminPort)"]

                    """.utf8
                ).write(to: config)
                let port = try Self.freePort()
                let log = directory.appendingPathComponent("prometheus.log")
                let process = try ChildProcess(
                    Self.prometheus,
                    [
                        "--config.file=\(config.path)",
                        "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                        "--web.listen-address=127.0.0.1:\(port)",
                    ],
                    standardOutput: .nullDevice,
                    standardError: .file(log.path)
                )
                defer {
                    process.terminate()
                    process.waitUntilExit()
                }
                let query = "http://127.0.0.1:\(port)/api/v1/query?query=corsproxy_requests_total"
                var found: [String: Any]?
                let deadline = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < deadline, process.isRunning {
                    let answer = try await http(query)
                    if answer.status == 200, let data = try? answer.json()["data"] as? [String: Any],
                        let result = data["result"] as? [[String: Any]],
                        let series = result.first(where: {
                            ($0["metric"] as? [String: String])?["cors"] == "allowed"
                        })
                    {
                        found = series
                        break
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
                let logText = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                let series = try #require(found, "no corsproxy_requests_total from Prometheus; its log:\n\(logText)")
                let labels = try #require(series["metric"] as? [String: String])
                #expect(labels["__name__"] == "corsproxy_requests_total")
                #expect(labels["job"] == "corsproxy")
                #expect(labels["route"] == "/api")
                #expect(labels["status"] == "200")
                let value = try #require(series["value"] as? [Any])
                #expect(value.last as? String == "3")
            }
        }
    }
}

import CORSProxy
import Foundation
import Testing

/// The admin listener's endpoints, and what it takes off the main port.
@Suite("Admin listener")
struct AdminListenerTests {
    /// Two routes (`/api`, `/other`) to `upstream`, prefixes stripped, with an admin listener unless `admin` is
    /// false.
    static func config(upstream: String, admin: Bool = true, extra: String = "") -> String {
        """
        {"listen": "127.0.0.1:0",\(admin ? " \"admin\": {\"listen\": \"127.0.0.1:0\"}," : "")
         "routes": [{"prefix": "/api", "upstream": "\(upstream)", "stripPrefix": true},
                    {"prefix": "/other", "upstream": "\(upstream)", "stripPrefix": true}],
         "cors": \(defaultCORS)\(extra.isEmpty ? "" : ", \(extra)")}
        """
    }

    @Test("healthz, readyz, config, faults and report answer GET; HEAD has no body; 404 JSON and 405 otherwise")
    func endpoints() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url)) { proxy in
                let health = try await http(proxy.adminURL + "/healthz")
                #expect(health.status == 200)
                #expect(health.text == "ok\n")
                #expect(try await http(proxy.adminURL + "/readyz").status == 200)
                let faults = try await http(proxy.adminURL + "/faults")
                #expect(faults.status == 200)
                #expect(faults.header("Content-Type") == "application/json")
                #expect(try faults.json()["faults"] as? [Any] != nil)
                let report = try await http(proxy.adminURL + "/report")
                #expect(try report.json()["mode"] as? String == "enforce")
                let metrics = try await http(proxy.adminURL + "/metrics", method: "HEAD")
                #expect(metrics.status == 200)
                #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
                // curl --head writes the head where the body would go: no sample line may follow it.
                #expect(!metrics.text.contains("# TYPE"))
                #expect(Int(metrics.header("Content-Length") ?? "") ?? 0 > 0)
                let missing = try await http(proxy.adminURL + "/__corsproxy/faults")
                #expect(missing.status == 404)
                #expect(try missing.json()["error"] as? String == "not_found")
                let post = try await http(proxy.adminURL + "/metrics", method: "POST")
                #expect(post.status == 405)
                #expect(post.header("Allow") == "GET, HEAD")
            }
        }
    }

    @Test("with an admin listener the main port keeps /__corsproxy/healthz only; without one it serves the reports")
    func mainPortGivesUpTheReports() async throws {
        try await withUpstream { upstream in
            try await withAdminProxy(Self.config(upstream: upstream.url)) { proxy in
                #expect(try await http(proxy.url + "/__corsproxy/healthz").status == 200)
                for path in ["/__corsproxy/faults", "/__corsproxy/report"] {
                    let answer = try await http(proxy.url + path)
                    #expect(answer.status == 404, "\(path)")
                    // The same answer as any path no route matches.
                    #expect(try answer.json()["error"] as? String == "no_route", "\(path)")
                }
                // What the main port served without an admin listener, the admin listener serves now.
                let faults = try await http(proxy.adminURL + "/faults")
                #expect(try faults.json()["faults"] as? [Any] != nil)
            }
            try await withProxy(Self.config(upstream: upstream.url, admin: false)) { proxy in
                let faults = try await http(proxy.url + "/__corsproxy/faults")
                let report = try await http(proxy.url + "/__corsproxy/report")
                #expect(faults.status == 200)
                #expect(report.status == 200)
            }
        }
    }

    @Test("/config shows the config in force and its version, field by field, and nothing else")
    func configInForce() async throws {
        try await withUpstream { upstream in
            let extra = #""timeouts": {"drain": 7, "lameDuck": 0.5, "total": 0}, "faults": {"requestControl": true}"#
            try await withAdminProxy(Self.config(upstream: upstream.url, extra: extra)) { proxy in
                let answer = try await http(
                    proxy.adminURL + "/config",
                    headers: ["Authorization: Bearer secret-token-123"]
                )
                #expect(answer.status == 200)
                let json = try answer.json()
                #expect(json["version"] as? Int == 1)
                #expect(
                    Set(json.keys)
                        == [
                            "version", "listen", "routes", "cors", "allowedHosts", "timeouts", "limits", "faults",
                            "admin", "trustedProxies", "forwardedHeaders",
                        ]
                )
                let routes = try #require(json["routes"] as? [[String: Any]])
                #expect(routes.map { $0["prefix"] as? String } == ["/api", "/other"])
                #expect(routes.first?["upstream"] as? String == upstream.url)
                let timeouts = try #require(json["timeouts"] as? [String: Any])
                #expect(timeouts["drain"] as? Double == 7)
                #expect(timeouts["lameDuck"] as? Double == 0.5)
                let cors = try #require(json["cors"] as? [String: Any])
                #expect((cors["allowedOrigins"] as? [String])?.first == "http://localhost:3000")
                #expect((json["admin"] as? [String: Any])?["listen"] as? String != nil)
                // Nothing of the request, and no field the view does not list.
                #expect(!answer.text.contains("secret-token-123"))
            }
        }
    }

    @Test(
        "admin.listen, timeouts.drain and timeouts.lameDuck are checked with their key paths; a non-loopback admin.listen warns"
    )
    func validation() throws {
        func issues(_ extra: String, listen: String = "127.0.0.1:8787") -> [String] {
            let json = """
                {"listen": "\(listen)", "routes": [{"prefix": "/", "upstream": "https://example.com"}], \(extra)}
                """
            do {
                _ = try ProxyConfig.parse(Data(json.utf8))
                return []
            } catch let error as ConfigError {
                return error.issues.map { "\($0.path): \($0.message)" }
            } catch {
                return ["\(error)"]
            }
        }
        #expect(
            issues(#""admin": {"listen": "nope"}"#).first?.hasPrefix("admin.listen: \"nope\" is not HOST:PORT") == true
        )
        #expect(issues(#""admin": {}"#).first?.hasPrefix("admin.listen: missing") == true)
        #expect(issues(#""admin": {"listen": "127.0.0.1:9787", "port": 1}"#) == ["admin.port: unknown key"])
        #expect(issues(#""admin": {"listen": "127.0.0.1:8787"}"#).first?.contains("own listen address") == true)
        #expect(issues(#""timeouts": {"drain": -1}"#).first?.hasPrefix("timeouts.drain: -1 is out of range") == true)
        #expect(issues(#""admin": {"listen": "127.0.0.1:0"}, "timeouts": {"drain": 0}"#).isEmpty)
        #expect(
            issues(#""timeouts": {"lameDuck": 301}"#).first?.hasPrefix("timeouts.lameDuck: 301 is out of range") == true
        )
        #expect(issues(#""timeouts": {"lameDuck": "1s"}"#).first?.hasPrefix("timeouts.lameDuck: ") == true)
        #expect(issues(#""timeouts": {"lameDuck": 0, "drain": 0}"#).isEmpty)

        func config(_ admin: String) throws -> ProxyConfig {
            try ProxyConfig.parse(
                Data(
                    """
                    {"routes": [{"prefix": "/", "upstream": "https://example.com"}],
                     "cors": {"allowedHeaders": ["Authorization"]}, "admin": {"listen": "\(admin)"}}
                    """.utf8
                )
            )
        }
        let open = try config("0.0.0.0:9787").lint()
        #expect(open.map(\.path) == ["admin.listen"])
        #expect(open.first?.message.contains("not a loopback address") == true)
        #expect(try config("127.0.0.1:9787").lint().isEmpty)
        #expect(try config("[::1]:9787").lint().isEmpty)
        #expect(try config("127.0.0.1:9787").timeouts.drain == .seconds(25))
        #expect(try config("127.0.0.1:9787").timeouts.lameDuck == .zero, "off unless asked for")
    }

    @Test("the reload and TLS series exist before their features do, and move through their setters")
    func reloadAndTLSSetters() {
        let metrics = ProxyMetrics()
        func value(_ series: String) -> Double? {
            let scrape = Scrape(text: metrics.registry.emitToString())
            return scrape.samples[series]
        }
        #expect(value(#"corsproxy_config_reloads_total{result="success"}"#) == 0)
        #expect(value(#"corsproxy_config_reloads_total{result="failure"}"#) == 0)
        #expect(value(#"corsproxy_rate_limited_total{limit="rate"}"#) == 0)
        #expect(value(#"corsproxy_rate_limited_total{limit="upstream_budget"}"#) == 0)
        #expect(value("corsproxy_tls_certificate_expiry_timestamp_seconds") == 0)
        metrics.recordReload(success: false)
        metrics.recordReload(success: true, at: Date(timeIntervalSince1970: 1_800_000_000))
        metrics.recordReload(success: true, at: Date(timeIntervalSince1970: 1_800_000_100))
        #expect(value(#"corsproxy_config_reloads_total{result="success"}"#) == 2)
        #expect(value(#"corsproxy_config_reloads_total{result="failure"}"#) == 1)
        #expect(value("corsproxy_config_last_reload_success_timestamp_seconds") == 1_800_000_100)
        metrics.setTLSCertificateExpiry(Date(timeIntervalSince1970: 1_900_000_000))
        #expect(value("corsproxy_tls_certificate_expiry_timestamp_seconds") == 1_900_000_000)
    }
}

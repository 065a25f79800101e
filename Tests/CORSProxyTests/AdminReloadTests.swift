import Foundation
import Testing

/// `POST /reload` on the admin listener of a real `corsproxy serve`: the reload's result as JSON, and the
/// reload counter in the metrics.
@Suite("Admin POST /reload")
struct AdminReloadTests {
    static func config(upstream: String, origin: String) -> String {
        """
        {"routes": [{"prefix": "/", "upstream": "\(upstream)"}], "admin": {"listen": "127.0.0.1:0"},
         "cors": {"allowedOrigins": ["\(origin)"]}}
        """
    }

    @Test("an invalid file: 422 with every problem, the old config serving; a valid one: in force; GET is 405")
    func reload() async throws {
        try await withUpstream { upstream in
            let first = Self.config(upstream: upstream.url, origin: "http://localhost:3000")
            try await withProxyProcess(
                configJSON: first,
                arguments: ["--log-format", "json"],
                hasAdminListener: true
            ) { proxy in
                let file = URL(fileURLWithPath: proxy.configPath)
                #expect(try await http(proxy.adminURL + "/reload").status == 405)

                try Data(#"{"routes": [], "cors": {"allowedOrigins": ["not an origin"]}, "bogus": 1}"#.utf8)
                    .write(to: file)
                let refused = try await http(proxy.adminURL + "/reload", method: "POST")
                #expect(refused.status == 422, "\(refused.text)")
                let problems =
                    try #require(
                        try JSONSerialization.jsonObject(with: refused.body) as? [String: Any]
                    )["problems"] as? [String]
                #expect((problems?.count ?? 0) >= 3, "\(refused.text)")
                #expect(problems?.contains { $0.hasPrefix("bogus") } == true, "\(refused.text)")
                let old = try await http(proxy.url + "/echo", headers: ["Origin: http://localhost:3000"])
                #expect(old.header("Access-Control-Allow-Origin") == "http://localhost:3000")

                try Data(Self.config(upstream: upstream.url, origin: "http://localhost:5173").utf8).write(to: file)
                let applied = try await http(proxy.adminURL + "/reload", method: "POST")
                #expect(applied.status == 200, "\(applied.text)")
                let body = try #require(try JSONSerialization.jsonObject(with: applied.body) as? [String: Any])
                // The file watcher may have applied it first; either way the new version is in force.
                #expect(["applied", "unchanged"].contains(body["outcome"] as? String ?? ""), "\(applied.text)")
                #expect((body["version"] as? Int ?? 0) >= 2, "\(applied.text)")
                let new = try await http(proxy.url + "/echo", headers: ["Origin: http://localhost:5173"])
                #expect(new.header("Access-Control-Allow-Origin") == "http://localhost:5173")
                // The access log names the version that served each request.
                let served = try await proxy.waitForStderr(#""origin":"http://localhost:5173""#)
                #expect(served.last?.contains(#""configVersion":\#(body["version"] as? Int ?? 0)"#) == true)

                let metrics = try await http(proxy.adminURL + "/metrics").text
                #expect(metrics.contains(#"corsproxy_config_reloads_total{result="failure"}"#), "\(metrics)")
                #expect(!metrics.contains(#"corsproxy_config_reloads_total{result="success"} 0"#), "\(metrics)")
            }
        }
    }
}

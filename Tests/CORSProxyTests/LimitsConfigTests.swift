import Foundation
import Testing

@testable import CORSProxy

/// `limits.rateLimit`, `limits.maxConnections`, `trustedProxies` and `forwardedHeaders` in the config: parsing,
/// one line per problem with its key path, what a reload does with each, `/config` and `validate`.
@Suite("Limits config")
struct LimitsConfigTests {
    static let base = #""routes": [{"prefix": "/", "upstream": "https://a.example"}]"#

    static func parse(_ extra: String) throws -> ProxyConfig {
        try ProxyConfig.parse(Data("{\(Self.base), \(extra)}".utf8))
    }

    func issues(_ extra: String) -> [String] {
        do {
            _ = try Self.parse(extra)
            return []
        } catch let error as ConfigError {
            return error.description.components(separatedBy: "\n")
        } catch {
            return ["unexpected: \(error)"]
        }
    }

    @Test("a full set parses; everything is off by default")
    func parses() throws {
        let config = try Self.parse(
            """
            "limits": {"maxConnections": 500, "rateLimit": {"key": "client", "rate": 2.5, "burst": 20}},
            "trustedProxies": ["10.0.0.0/8", "fd00::/8", "192.0.2.1"], "forwardedHeaders": "forwarded"
            """
        )
        #expect(config.limits.maxConnections == 500)
        #expect(config.limits.rateLimit == ProxyConfig.RateLimit(key: .client, rate: 2.5, burst: 20))
        #expect(config.trustedProxies.map(\.source) == ["10.0.0.0/8", "fd00::/8", "192.0.2.1"])
        #expect(config.forwardedHeaders == .forwarded)
        let plain = try Self.parse(#""limits": {}"#)
        #expect(plain.limits.maxConnections == 0 && plain.limits.rateLimit == nil)
        #expect(plain.trustedProxies.isEmpty && plain.forwardedHeaders == .xForwarded)
    }

    @Test("one line per problem, each with its key path")
    func problems() {
        let lines = self.issues(
            """
            "limits": {"maxConnections": -1, "rateLimits": 1,
                       "rateLimit": {"key": "ip", "rate": 0, "burst": 1.5, "window": 1}},
            "trustedProxies": ["10.0.0.0/8", "10.0.0.1/8", "fd00::/200", "proxy.internal"],
            "forwardedHeaders": "x-forwarded-for"
            """
        )
        #expect(
            lines == [
                "proxy.json: limits.rateLimits: unknown key",
                "proxy.json: limits.maxConnections: -1 is out of range 0...1000000",
                "proxy.json: limits.rateLimit.window: unknown key",
                #"proxy.json: limits.rateLimit.key: "ip" is neither "origin" nor "client""#,
                "proxy.json: limits.rateLimit.rate: 0 is out of range 0.001...1000000",
                "proxy.json: limits.rateLimit.burst: expected a whole number, found 1.5",
                #"proxy.json: trustedProxies[1]: "10.0.0.1/8" has bits set beyond its /8 prefix; did you mean 10.0.0.0/8?"#,
                #"proxy.json: trustedProxies[2]: "fd00::/200": the prefix length must be 0…128"#,
                #"proxy.json: trustedProxies[3]: "proxy.internal" is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)"#,
                #"proxy.json: forwardedHeaders: "x-forwarded-for" is not one of "x-forwarded", "forwarded", "none""#,
            ]
        )
        #expect(
            self.issues(#""limits": {"rateLimit": {}}"#) == [
                #"proxy.json: limits.rateLimit.key: missing: "origin" or "client""#,
                "proxy.json: limits.rateLimit.rate: missing: requests per second per key, e.g. 10",
                "proxy.json: limits.rateLimit.burst: missing: requests a key may send at once, e.g. 20",
            ]
        )
    }

    @Test("a reload applies rateLimit, trustedProxies and forwardedHeaders; maxConnections needs a restart")
    func reload() throws {
        let old = try Self.parse(#""limits": {"maxConnections": 100}"#)
        let new = try Self.parse(
            """
            "limits": {"maxConnections": 200, "rateLimit": {"key": "origin", "rate": 10, "burst": 20}},
            "trustedProxies": ["10.0.0.0/8"], "forwardedHeaders": "none"
            """
        )
        let changes = ConfigChanges(from: old, to: new)
        #expect(
            changes.applied == [
                "limits.rateLimit: off → {key: origin, rate: 10, burst: 20}",
                "trustedProxies: [] → [10.0.0.0/8]",
                "forwardedHeaders: x-forwarded → none",
            ]
        )
        #expect(changes.needsRestart == ["limits.maxConnections: 100 → 200"])
        let applied = ConfigChanges.applying(new, keeping: old)
        #expect(applied.limits.maxConnections == 100 && applied.limits.rateLimit != nil)
    }

    @Test("/config shows the limits and forwarding in force")
    func configView() throws {
        let config = try Self.parse(
            """
            "limits": {"maxConnections": 5, "rateLimit": {"key": "client", "rate": 1, "burst": 2}},
            "trustedProxies": ["::1"]
            """
        )
        let json = String(buffer: ConfigView.json(ConfigSnapshot(config: config)))
        #expect(json.contains(#""maxConnections":5"#))
        #expect(json.contains(#""rateLimit":{"burst":2,"key":"client","rate":1}"#))
        #expect(json.contains(#""trustedProxies":["::1"]"#))
        #expect(json.contains(#""forwardedHeaders":"x-forwarded""#))
    }

    @Test("validate names the limits in force, and that they are per instance")
    func validate() async throws {
        let file = try CommandLineTests.writeTemporary(
            """
            {\(Self.base), "limits": {"maxConnections": 50, "rateLimit": {"key": "client", "rate": 10, "burst": 20}},
             "trustedProxies": ["10.0.0.0/8"], "forwardedHeaders": "forwarded"}
            """
        )
        let result = try await CommandLineTests.corsproxy(["validate", "--config", file])
        #expect(result.status == 0)
        #expect(
            result.stdout.trimmingCharacters(in: .newlines)
                == "\(file): ok (1 route(s), 0 allowed origin pattern(s), listen 127.0.0.1:8787, rate limit 10/s burst 20 per client (per instance), max 50 connections, 1 trusted proxy range(s), forwardedHeaders forwarded)"
        )
    }
}

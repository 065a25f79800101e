import Foundation
import NIOCore
import Testing

@testable import CORSProxy

/// `routes[].upstreamBudget` and `routes[].proxy` in the config: parsing, one problem per line with its key path,
/// `/config` and what a reload says changed.
@Suite("Config: upstreamBudget and proxy")
struct OutboundConfigTests {
    static func route(_ extra: String) -> String {
        #"{"routes": [{"prefix": "/", "upstream": "https://api.example.com", \#(extra)}]}"#
    }

    func issues(_ json: String) -> [String] {
        do {
            _ = try ProxyConfig.parse(Data(json.utf8))
            return []
        } catch {
            return "\(error)".components(separatedBy: "\n")
        }
    }

    @Test("both parse; absent, neither is set")
    func parses() throws {
        let config = try ProxyConfig.parse(
            Data(
                Self.route(#""upstreamBudget": {"minimumRemaining": 10}, "proxy": "http://Proxy.Corp.example:3128/""#)
                    .utf8
            )
        )
        #expect(config.routes[0].upstreamBudget == ProxyConfig.UpstreamBudgetSettings(minimumRemaining: 10))
        #expect(config.routes[0].proxy?.description == "http://proxy.corp.example:3128")
        let plain = try ProxyConfig.parse(Data(Self.route(#""stripPrefix": false"#).utf8))
        #expect(plain.routes[0].upstreamBudget == nil && plain.routes[0].proxy == nil)
        let ipv6 = try ProxyConfig.parse(Data(Self.route(#""proxy": "http://[::1]:8080""#).utf8))
        #expect(ipv6.routes[0].proxy?.description == "http://[::1]:8080")
    }

    @Test(
        "one line per problem, with its key path",
        arguments: [
            (
                #""upstreamBudget": {}"#,
                "routes[0].upstreamBudget.minimumRemaining: missing: the requests to leave each token, e.g. 10"
            ),
            (
                #""upstreamBudget": {"minimumRemaining": -1}"#,
                "routes[0].upstreamBudget.minimumRemaining: -1 is out of range 0...1000000"
            ),
            (
                #""upstreamBudget": {"minimumRemaining": 2.5}"#,
                "routes[0].upstreamBudget.minimumRemaining: expected a whole number of requests, found 2.5"
            ),
            (
                #""upstreamBudget": {"minimum": 2, "minimumRemaining": 2}"#,
                "routes[0].upstreamBudget.minimum: unknown key"
            ),
            (#""upstreamBudget": 5"#, "routes[0].upstreamBudget: expected an object, found a number"),
            (#""proxy": 3128"#, "routes[0].proxy: expected a string, found a number"),
            (
                #""proxy": "proxy.corp:3128""#,
                #"routes[0].proxy: "proxy.corp:3128" is not a URL; expected http://host:port"#
            ),
            (
                #""proxy": "https://proxy.corp:3128""#,
                #"routes[0].proxy: "https://proxy.corp:3128": only http:// proxies are supported (https upstreams still tunnel TLS through them)"#
            ),
            (
                #""proxy": "socks5://proxy.corp:1080""#,
                #"routes[0].proxy: "socks5://proxy.corp:1080": only http:// proxies are supported (https upstreams still tunnel TLS through them)"#
            ),
            (
                #""proxy": "http://user:pw@proxy.corp:3128""#,
                #"routes[0].proxy: "http://user:pw@proxy.corp:3128": user info is not supported (a proxy password would be a secret in the config)"#
            ),
            (
                #""proxy": "http://proxy.corp""#,
                #"routes[0].proxy: "http://proxy.corp" names no port (libcurl would guess 1080); write http://host:port"#
            ),
            (
                #""proxy": "http://proxy.corp:0""#,
                #"routes[0].proxy: "http://proxy.corp:0" has no valid port (1-65535)"#
            ),
            (
                #""proxy": "http://proxy.corp:99999""#,
                #"routes[0].proxy: "http://proxy.corp:99999" has no valid port (1-65535)"#
            ),
            (
                #""proxy": "http://proxy.corp:3128/path""#,
                #"routes[0].proxy: "http://proxy.corp:3128/path" must be http://host:port, with no path, query or fragment"#
            ),
            (#""proxy": "http://bad_host:3128""#, #"routes[0].proxy: "http://bad_host:3128" has no valid host"#),
        ]
    )
    func problems(extra: String, line: String) {
        #expect(self.issues(Self.route(extra)) == ["proxy.json: \(line)"])
    }

    @Test("/config shows both; a reload names their changes")
    func viewAndChanges() throws {
        let old = try ProxyConfig.parse(Data(Self.route(#""upstreamBudget": {"minimumRemaining": 10}"#).utf8))
        let new = try ProxyConfig.parse(
            Data(Self.route(#""upstreamBudget": {"minimumRemaining": 3}, "proxy": "http://10.0.0.5:8080""#).utf8)
        )
        let view = String(buffer: ConfigView.json(ConfigSnapshot(config: new)))
        #expect(view.contains(#""proxy":"http://10.0.0.5:8080""#), "\(view)")
        #expect(view.contains(#""upstreamBudget":{"minimumRemaining":3}"#), "\(view)")
        #expect(
            ConfigChanges(from: old, to: new).applied == [
                "routes[/].upstreamBudget.minimumRemaining: 10 → 3",
                "routes[/].proxy: none → http://10.0.0.5:8080",
            ]
        )
    }
}

import Foundation
import Testing

@testable import CORSProxy

@Suite("Config loading and checking")
struct ConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func issues(_ json: String) -> [String] {
        do {
            _ = try ProxyConfig.parse(Data(json.utf8))
            return []
        } catch let error as ConfigError {
            return error.description.components(separatedBy: "\n")
        } catch {
            return ["unexpected: \(error)"]
        }
    }

    @Test("the default proxy.json is a ready local dev proxy for the Procore sandbox")
    func defaultConfig() throws {
        let config = try ProxyConfig.load(path: Self.root.appendingPathComponent("proxy.json").path)
        #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 8787))
        let routes = Dictionary(uniqueKeysWithValues: config.routes.map { ($0.prefix, $0.upstream.description) })
        #expect(routes == ["/oauth/": "https://login-sandbox.procore.com", "/": "https://sandbox.procore.com"])
        #expect(
            config.cors.allowedOrigins.map(\.source) == [
                "http://localhost:3000", "http://localhost:5173", "http://127.0.0.1:*",
            ]
        )
        #expect(config.cors.allowedHeaders.contains("Procore-Company-Id"))
        #expect(config.cors.exposedHeaders.contains("X-Rate-Limit-Remaining"))
        #expect(config.cors.allowCredentials)
        #expect(config.cors.disallowedOrigin == .reject)
    }

    @Test("one line per problem, each naming its key path")
    func problemsWithKeyPaths() {
        let lines = self.issues(
            """
            {"listen": 8787, "routez": [],
             "routes": [{"prefix": "api", "upstream": "ftp://x"}, {"prefix": "/", "upstream": "https://ok.example.com", "stripPrefix": "yes"}],
             "cors": {"allowedOrigins": ["http://a.example", "https://b.example", "htp://x"], "maxAge": -1,
                      "disallowedOrigin": "block", "allowCredentials": 1}}
            """
        )
        #expect(
            lines == [
                "proxy.json: routez: unknown key",
                "proxy.json: listen: expected a string, found a number",
                "proxy.json: routes[0].prefix: \"api\" must start with \"/\"",
                "proxy.json: routes[0].upstream: \"ftp://x\" is not an http(s) URL without query, fragment or user info",
                "proxy.json: routes[1].stripPrefix: expected true or false, found a string",
                "proxy.json: cors.allowedOrigins[2]: \"htp://x\" is not an origin",
                "proxy.json: cors.allowCredentials: expected true or false, found a number",
                "proxy.json: cors.maxAge: -1 is out of range 0...86400",
                "proxy.json: cors.disallowedOrigin: \"block\" is neither \"reject\" nor \"omit-headers\"",
            ]
        )
    }

    @Test("no routes is a problem", arguments: ["{}", "{\"routes\": []}"])
    func noRoutes(json: String) {
        let lines = self.issues(json)
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("proxy.json: routes: ") == true)
    }

    @Test("unknown keys are reported with a did-you-mean")
    func unknownKeyHint() {
        let lines = self.issues(
            #"{"routes": [{"prefix": "/", "upstream": "http://a"}], "cors": {"allowedorigins": []}}"#
        )
        #expect(lines == [#"proxy.json: cors.allowedorigins: unknown key (did you mean "allowedOrigins"?)"#])
    }

    @Test("invalid JSON names the problem")
    func invalidJSON() {
        let lines = self.issues(#"{"routes": [}"#)
        #expect(lines == [#"proxy.json: not valid JSON: line 1, column 13: found "}" where a value should be"#])
        #expect(
            self.issues("{\n  \"listen\": \"127.0.0.1:8787\"\n  \"routes\": []\n}") == [
                #"proxy.json: not valid JSON: line 3, column 3: found """ where "," or "}" should be"#
            ]
        )
        #expect(
            self.issues(#"{"listen": "127.0.0.1:8787"} x"#) == [
                "proxy.json: not valid JSON: line 1, column 30: unexpected text after the document"
            ]
        )
        #expect(
            self.issues(#"{"listen": tru}"#) == [
                #"proxy.json: not valid JSON: line 1, column 15: found "}" where "true" should be"#
            ]
        )
        #expect(
            self.issues(#"{"listen": "127.0.0.1:87"#) == [
                "proxy.json: not valid JSON: line 1, column 25: the text ends inside a string"
            ]
        )
    }

    @Test("\"*\" with credentials is refused")
    func wildcardWithCredentials() {
        let lines = self.issues(
            #"{"routes": [{"prefix": "/", "upstream": "http://a"}], "cors": {"allowedOrigins": ["http://x.dev", "*"], "allowCredentials": true}}"#
        )
        #expect(lines.count == 1)
        #expect(lines[0].hasPrefix("proxy.json: cors.allowedOrigins[1]: \"*\" cannot be used with allowCredentials"))
    }

    @Test(
        "upstream URLs: http(s), host, optional port and base path; nothing else",
        arguments: [
            ("https://sandbox.procore.com", "https://sandbox.procore.com"),
            ("HTTPS://Sandbox.Procore.com:443/", "https://sandbox.procore.com"),
            ("http://127.0.0.1:8080/base/", "http://127.0.0.1:8080/base"),
            ("http://[::1]:9000", "http://[::1]:9000"),
        ]
    )
    func upstreamURLs(input: String, expected: String) {
        #expect(UpstreamURL(input)?.description == expected)
    }

    @Test(
        "bad upstream URLs are refused",
        arguments: [
            "sandbox.procore.com", "ftp://x", "https://user@host", "https://host/?q", "https://host/#f", "https://",
            "https://host:0",
            "https://host:99999", "https://ho st",
        ]
    )
    func badUpstreamURLs(input: String) {
        #expect(UpstreamURL(input) == nil)
    }

    @Test(
        "listen addresses",
        arguments: [
            ("127.0.0.1:8787", "127.0.0.1", 8787), ("[::1]:0", "::1", 0), ("localhost:3001", "localhost", 3001),
        ]
    )
    func listenAddresses(input: String, host: String, port: Int) {
        #expect(ListenAddress(input) == ListenAddress(host: host, port: port))
    }

    @Test("bad listen addresses", arguments: ["8787", "127.0.0.1", ":80", "::1:80", "host:65536", "host:-1", "[::1]"])
    func badListenAddresses(input: String) {
        #expect(ListenAddress(input) == nil)
    }
}

@Suite("Fault rules in the config")
struct FaultConfigTests {
    static func problems(_ faults: String, top: String = "") throws -> [String] {
        let json = """
            {"routes": [{"prefix": "/", "upstream": "https://a.example", "faults": \(faults)}],
             "cors": {"allowedOrigins": ["http://localhost:3000"]}\(top)}
            """
        do {
            _ = try ProxyConfig.parse(Data(json.utf8))
            return []
        } catch let error as ConfigError {
            return error.issues.map { "\($0.path): \($0.message)" }
        }
    }

    @Test("unknown kinds, rates outside 0…1, bad N and rules that can never apply are refused with their key paths")
    func refused() throws {
        let found = try Self.problems(
            """
            [{"fault": "nope"}, {"fault": "no-allow-origin", "rate": 1.5}, {"fault": "latency:abc"},
             {"fault": "method-not-allowed", "methods": ["GET", "POST"]}, {"fault": "status:200"},
             {"rate": 0.5}, {"fault": "no-allow-origin", "origins": ["htp://x"]}, {"fault": "cors-off"}]
            """,
            top: #", "faults": {"seed": -1, "requestControl": "yes"}"#
        )
        let expected = [
            "routes[0].faults[0].fault: \"nope\" is not a fault kind",
            "routes[0].faults[1].rate: 1.5 is out of range 0...1",
            "routes[0].faults[2].fault: latency:abc: N must be a whole number in 0...60000",
            "routes[0].faults[3].methods: method-not-allowed cannot apply to GET, POST",
            "routes[0].faults[4].fault: status:200: N must be a whole number in 400...599",
            "routes[0].faults[5].fault: missing",
            "routes[0].faults[6].origins[0]: ",
            "routes[0].faults[7].fault: \"cors-off\" is not a fault kind",
            "faults.seed: -1 is out of range",
            "faults.requestControl: expected true or false",
        ]
        for prefix in expected {
            #expect(found.contains { $0.hasPrefix(prefix) }, "\(prefix) in \(found)")
        }
        #expect(found.count == expected.count, "\(found)")
    }

    @Test("a good rule set parses: kinds with and without N, filters, seed and request control")
    func accepted() throws {
        let json = """
            {"routes": [{"prefix": "/", "upstream": "https://a.example",
                         "faults": [{"fault": "latency:250", "rate": 0.25, "methods": ["PUT"], "origins": ["http://localhost:*"]},
                                    {"fault": "preflight-status"}]}],
             "cors": {"allowedOrigins": ["http://localhost:3000"], "mode": "report-only"},
             "faults": {"requestControl": true, "seed": 42}}
            """
        let config = try ProxyConfig.parse(Data(json.utf8))
        let rules = config.routes[0].faults
        #expect(rules.map(\.fault) == [.latency(milliseconds: 250), .preflightStatus(403)])
        #expect(rules[0].rate == 0.25 && rules[0].methods == ["PUT"] && rules[0].origins?.count == 1)
        #expect(config.faults.requestControl && config.faults.seed == 42 && config.cors.mode == .reportOnly)
        for kind in Fault.kinds {
            guard case .success(let fault) = Fault.parse(kind) else {
                Issue.record("\(kind) does not parse")
                continue
            }
            #expect(fault.kind == kind)
        }
    }
}

import Foundation
import Testing

@testable import CORSProxy

/// `validate` lints as well as parses: legal settings that are probably mistakes.
@Suite("Config lint")
struct ConfigLintTests {
    static func warnings(cors: String, listen: String = "127.0.0.1:8787") throws -> [String] {
        let json =
            #"{"listen": "\#(listen)", "routes": [{"prefix": "/", "upstream": "https://a.example"}], "cors": \#(cors)}"#
        return try ProxyConfig.parse(Data(json.utf8)).lint().map(\.description)
    }

    static func origins(
        _ patterns: [String],
        credentials: Bool = false,
        listen: String = "127.0.0.1:8787"
    ) throws -> [String] {
        let list = patterns.map { String(reflecting: $0) }.joined(separator: ", ")
        return try self.warnings(
            cors:
                #"{"allowedOrigins": [\#(list)], "allowedHeaders": ["Authorization"], "allowCredentials": \#(credentials)}"#,
            listen: listen
        )
    }

    @Test("the default proxy.json has no warnings")
    func defaultConfigIsClean() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        #expect(try ProxyConfig.load(path: root.appendingPathComponent("proxy.json").path).lint().isEmpty)
    }

    @Test(
        "patterns that admit more than they seem to",
        arguments: [
            ("*", "admits every origin"),
            ("https://*.com", "spans the public suffix \"com\""),
            ("https://*.github.io", "spans the public suffix \"github.io\""),
            ("https://*.co.uk", "spans the public suffix \"co.uk\""),
            ("re:.*", "matches almost any origin"),
            ("re:^https://app.example.com$", "unescaped \".\""),
            (#"re:^app\.example\.com$"#, "does not spell out the scheme"),
        ]
    )
    func broadPatterns(pattern: String, warning: String) throws {
        let warnings = try Self.origins([pattern])
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.hasPrefix("cors.allowedOrigins[0]: ") == true)
        #expect(warnings.first?.contains(warning) == true, "\(warnings)")
    }

    @Test(
        "precise patterns pass",
        arguments: [
            "https://app.example.com", "https://*.example.com", "http://localhost:*",
            #"re:^https://pr-[0-9]+\.preview\.example\.com$"#,
            "http://*.localhost:3000",
        ]
    )
    func precisePatterns(pattern: String) throws {
        #expect(try Self.origins([pattern]).isEmpty)
    }

    @Test("plain-http origins are flagged when the proxy listens beyond loopback")
    func plainHTTPOnNetwork() throws {
        let flagged = try Self.origins(
            ["http://app.example.com", "http://localhost:3000", "https://app.example.com"],
            listen: "0.0.0.0:8787"
        )
        #expect(flagged.count == 1)
        #expect(
            flagged.first?.hasPrefix("cors.allowedOrigins[0]: \"http://app.example.com\" allows a plain-http origin")
                == true
        )
        #expect(try Self.origins(["http://app.example.com"]).isEmpty, "fine on a loopback listener")
    }

    @Test("allowedHeaders without Authorization is flagged")
    func noAuthorization() throws {
        let warnings = try Self.warnings(
            cors: #"{"allowedOrigins": ["http://localhost:3000"], "allowedHeaders": ["Content-Type"]}"#
        )
        #expect(
            warnings == [
                #"cors.allowedHeaders: Authorization is not listed, so browsers will refuse every request that sends a bearer token (a "*" never covers Authorization)"#
            ]
        )
    }

    @Test(
        "with credentials, * in a list is a literal name",
        arguments: ["allowedMethods", "allowedHeaders", "exposedHeaders"]
    )
    func literalWildcards(key: String) throws {
        let base = key == "allowedHeaders" ? "" : #""allowedHeaders": ["Authorization"], "#
        let cors =
            #"{"allowedOrigins": ["http://localhost:3000"], "allowCredentials": true, \#(base)"\#(key)": ["Authorization", "*"]}"#
        let warnings = try Self.warnings(cors: cors)
        #expect(
            warnings.contains {
                $0.hasPrefix("cors.\(key)[1]: with allowCredentials: true, browsers read \"*\" as a literal name")
            },
            "\(warnings)"
        )
    }

    @Test("a max age above Chromium's cap is flagged")
    func maxAgeCap() throws {
        let warnings = try Self.warnings(
            cors:
                #"{"allowedOrigins": ["http://localhost:3000"], "allowedHeaders": ["Authorization"], "maxAge": 86400}"#
        )
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("cors.maxAge: 86400 s is above Chromium's cap of 7200 s") == true)
    }

    @Test("null is refused outright, with the reason")
    func nullOrigin() {
        let json =
            #"{"routes": [{"prefix": "/", "upstream": "https://a.example"}], "cors": {"allowedOrigins": ["null"]}}"#
        #expect(throws: ConfigError.self) { try ProxyConfig.parse(Data(json.utf8)) }
        do {
            _ = try ProxyConfig.parse(Data(json.utf8))
        } catch {
            #expect("\(error)".contains("cors.allowedOrigins[0]: \"null\" cannot be allowed safely"))
        }
    }
}

import Foundation
import Testing

@testable import CORSProxy

/// The browser model, pure: preflight decisions and verdicts.
@Suite("Browser model")
struct BrowserModelTests {
    static func model(
        method: String = "GET",
        headers: [(String, String)] = [],
        credentials: Bool = false
    ) -> BrowserModel {
        BrowserModel(
            request: .init(
                url: "http://127.0.0.1:8787/rest/v1.0/me",
                origin: "http://localhost:3000",
                method: method,
                headers: headers.map { (name: $0.0, value: $0.1) },
                includesCredentials: credentials
            )
        )
    }

    @Test(
        "a preflight is needed for other methods and unsafelisted headers",
        arguments: [
            ("GET", [], false), ("POST", [("Content-Type", "text/plain; charset=utf-8")], false),
            ("HEAD", [("Accept", "application/json")], false),
            ("PUT", [], true), ("patch", [], true), ("GET", [("Authorization", "Bearer x")], true),
            ("POST", [("Content-Type", "application/json")], true),
            ("GET", [("Accept-Language", "en-US,en;q=0.9")], false),
            ("GET", [("Accept", "text/\"html\"")], true), ("GET", [("Procore-Company-Id", "1")], true),
        ] as [(String, [(String, String)], Bool)]
    )
    func needsPreflight(method: String, headers: [(String, String)], expected: Bool) {
        #expect(Self.model(method: method, headers: headers).needsPreflight == expected)
    }

    @Test("the preflight lists unsafelisted header names, lowercased and sorted")
    func preflightHeaders() {
        let model = Self.model(
            method: "patch",
            headers: [("Procore-Company-Id", "1"), ("Authorization", "x"), ("Accept", "*/*")]
        )
        #expect(
            model.preflightHeaders.map(\.value) == [
                "http://localhost:3000", "patch", "authorization,procore-company-id",
            ]
        )
    }

    @Test(
        "verdicts and the messages browsers print",
        arguments: [
            (
                [("Vary", "Origin")], 200, false,
                "No 'Access-Control-Allow-Origin' header is present on the requested resource."
            ),
            (
                [("Access-Control-Allow-Origin", "http://localhost:3001")], 200, false,
                "has a value 'http://localhost:3001' that is not equal to the supplied origin."
            ),
            (
                [("Access-Control-Allow-Origin", "http://localhost:3000"), ("Access-Control-Allow-Origin", "*")], 200,
                false, "contains multiple values"
            ),
            (
                [("Access-Control-Allow-Origin", "*")], 200, true,
                "must not be the wildcard '*' when the request's credentials mode is 'include'."
            ),
            (
                [("Access-Control-Allow-Origin", "http://localhost:3000")], 200, true,
                "The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true'"
            ),
            ([("Access-Control-Allow-Origin", "*")], 403, false, ""),
            (
                [
                    ("Access-Control-Allow-Origin", "http://localhost:3000"),
                    ("Access-Control-Allow-Credentials", "true"),
                ], 500, true, ""
            ),
        ] as [([(String, String)], Int, Bool, String)]
    )
    func actualVerdicts(headers: [(String, String)], status: Int, credentials: Bool, message: String) {
        let model = Self.model(credentials: credentials)
        let verdict = model.judgeActual(.init(status: status, headers: headers.map { (name: $0.0, value: $0.1) }))
        if message.isEmpty {
            #expect(verdict.isAllowed, "any status is readable once the CORS check passes")
        } else {
            #expect(
                model.chromeMessage(verdict)?.hasPrefix(
                    "Access to fetch at 'http://127.0.0.1:8787/rest/v1.0/me' from origin 'http://localhost:3000' has been blocked by CORS policy: "
                ) == true
            )
            #expect(
                model.chromeMessage(verdict)?.contains(message) == true,
                "\(String(describing: model.chromeMessage(verdict)))"
            )
        }
    }

    @Test("preflight verdicts: status, methods, headers")
    func preflightVerdicts() {
        let model = Self.model(method: "PUT", headers: [("Authorization", "x"), ("X-Custom", "1")], credentials: true)
        let allow: [(name: String, value: String)] = [
            ("Access-Control-Allow-Origin", "http://localhost:3000"), ("Access-Control-Allow-Credentials", "true"),
        ]
        #expect(model.judgePreflight(.init(status: 403, headers: allow)).failure == .preflightStatus(403))
        #expect(model.judgePreflight(.init(status: 302, headers: allow)).failure == .preflightRedirect)
        #expect(
            model.judgePreflight(.init(status: 204, headers: allow + [("Access-Control-Allow-Methods", "GET, POST")]))
                .failure == .methodNotAllowed("PUT")
        )
        #expect(
            model.judgePreflight(.init(status: 204, headers: allow + [("Access-Control-Allow-Methods", "*")])).failure
                == .methodNotAllowed("PUT")
        )
        let methods = allow + [("Access-Control-Allow-Methods", "PUT")]
        #expect(
            model.judgePreflight(
                .init(status: 204, headers: methods + [("Access-Control-Allow-Headers", "authorization")])
            ).failure == .headerNotAllowed("x-custom")
        )
        #expect(
            model.judgePreflight(.init(status: 204, headers: methods + [("Access-Control-Allow-Headers", "*")])).failure
                == .headerNotAllowed("authorization")
        )
        #expect(
            model.judgePreflight(
                .init(status: 204, headers: methods + [("Access-Control-Allow-Headers", "Authorization, X-Custom")])
            ).isAllowed
        )
        let firefox = model.firefoxMessage(model.judgePreflight(.init(status: 403, headers: allow)), status: 403)
        #expect(
            firefox
                == "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://127.0.0.1:8787/rest/v1.0/me. (Reason: CORS preflight response did not succeed). Status code: 403."
        )
    }
}

/// `corsproxy doctor` against the running proxy and against a bare upstream.
@Suite("corsproxy doctor")
struct DoctorTests {
    static func doctor(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await CommandLineTests.corsproxy(["doctor"] + arguments)
        return (result.status, result.stdout)
    }

    @Test("allowed through the proxy: exit 0, preflight passes, exposed headers named")
    func allowed() async throws {
        try await withUpstream { upstream in
            try await withProxyProcess(configJSON: testConfig(upstream: upstream.url)) { proxy in
                let result = try await Self.doctor([
                    proxy.url + "/echo", "--origin", "http://localhost:3000", "-H", "Authorization: Bearer t",
                    "--credentials",
                ])
                _ = try await proxy.stop()
                #expect(result.status == 0, "\(result.output)")
                #expect(result.output.contains("preflight: needed (headers authorization are not CORS-safelisted)"))
                #expect(result.output.contains("verdict:   ALLOWED"))
                #expect(result.output.contains("Total, Link, Retry-After"))
            }
        }
    }

    @Test(
        "blocked: exit 1 with the rule and both browsers' messages",
        arguments: [
            (
                ["--origin", "http://localhost:3001"],
                "Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header",
                "(Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 403."
            ),
            (
                ["--origin", "http://localhost:3000", "-H", "X-Secret: 1"],
                "Request header field x-secret is not allowed by Access-Control-Allow-Headers in preflight response.",
                "header ‘x-secret’ is not allowed"
            ),
            (
                ["--origin", "http://localhost:3000", "--method", "PROPFIND"],
                "Method PROPFIND is not allowed by Access-Control-Allow-Methods in preflight response.",
                "Did not find method"
            ),
        ]
    )
    func blocked(arguments: [String], chrome: String, firefox: String) async throws {
        try await withUpstream { upstream in
            try await withProxyProcess(configJSON: testConfig(upstream: upstream.url)) { proxy in
                let result = try await Self.doctor([proxy.url + "/echo", "-H", "Authorization: Bearer t"] + arguments)
                _ = try await proxy.stop()
                #expect(result.status == 1, "\(result.output)")
                #expect(result.output.contains("verdict:   BLOCKED"))
                #expect(result.output.contains(chrome), "\(result.output)")
                #expect(result.output.contains(firefox), "\(result.output)")
            }
        }
    }

    @Test("a simple request to an API without CORS headers is blocked at the response")
    func bareUpstream() async throws {
        try await withUpstream { upstream in
            let result = try await Self.doctor([upstream.url + "/echo", "--origin", "http://localhost:3000"])
            #expect(result.status == 1)
            #expect(result.output.contains("preflight: not needed"))
            #expect(
                result.output.contains(
                    "has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource."
                )
            )
            #expect(
                result.output.contains(
                    #"fix:       the response must carry "Access-Control-Allow-Origin: http://localhost:3000""#
                )
            )
            // The request, then one probe for corsproxy's health check, which tells the fix to give.
            #expect(upstream.requests.map(\.uri) == ["/echo", "/__corsproxy/healthz"])
        }
    }

    @Test("no server: exit 2")
    func networkError() async throws {
        try await withClosedPort { port in
            let result = try await Self.doctor(["http://127.0.0.1:\(port)/x", "--origin", "http://localhost:3000"])
            #expect(result.status == 2)
            #expect(result.output.contains("Failed to fetch"))
        }
    }

    @Test("--help teaches: examples for each use, and what each exit status means")
    func help() async throws {
        let result = try await CommandLineTests.corsproxy(["doctor", "--help"])
        #expect(result.status == 0)
        for text in [
            "Examples:", "--method PUT", "-H 'Authorization: Bearer TOKEN' --credentials", "--json | jq -r .fix",
            "python3 -c", "Exit status:", "0   allowed", "1   blocked", "2   error", "Local Network Access",
        ] {
            #expect(result.stdout.contains(text), "\(text)")
        }
        #expect(result.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 || $0.hasPrefix("USAGE:") })
    }

    @Test("bad arguments are refused clearly")
    func badArguments() async throws {
        let result = try await CommandLineTests.corsproxy([
            "doctor", "http://127.0.0.1:1/", "--origin", "localhost:3000",
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("is not an origin"))
    }
}

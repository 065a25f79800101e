import Foundation
import Testing

/// `corsproxy doctor --json` and the fix it names, run as a process against the proxy, a bare upstream and raw
/// servers that send exactly the bad header set.
@Suite("corsproxy doctor --json")
struct DoctorJSONTests {
    /// A bearer token long enough that its last four characters may be shown.
    static let token = "eyJhbGciOiJFUzUxMiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJlX3Rva2Vu"

    /// The fields every `--json` object has, `null` or not.
    static let fields = [
        "verdict", "stage", "rule", "chrome", "firefox", "fix", "fixDetails", "server", "localNetworkAccess", "request",
        "preflight", "actual", "exposedHeaders", "error",
    ]

    /// Runs `corsproxy doctor --json ARGS`; returns the exit status, the parsed object and the raw output.
    static func doctor(_ arguments: [String]) async throws -> (status: Int32, json: [String: Any], output: String) {
        let result = try await CommandLineTests.corsproxy(["doctor", "--json"] + arguments)
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        let json = try #require(parsed as? [String: Any], "\(result.stdout)\(result.stderr)")
        #expect(json.keys.sorted() == Self.fields.sorted(), "\(json.keys)")
        #expect(!result.stdout.contains(Self.token), "the Authorization value must never be printed")
        return (result.status, json, result.stdout)
    }

    /// `object[key]` as a dictionary.
    static func object(_ value: Any?) throws -> [String: Any] {
        try #require(value as? [String: Any], "\(String(describing: value))")
    }

    /// A header list (`[{"name", "value"}]`) as pairs.
    static func headers(_ value: Any?) throws -> [(String, String)] {
        let list = try #require(value as? [[String: String]], "\(String(describing: value))")
        return list.map { ($0["name"] ?? "", $0["value"] ?? "") }
    }

    @Test("allowed: every field, the preflight and the request with their headers, the token redacted")
    func allowed() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await Self.doctor([
                    proxy.url + "/echo", "--origin", "http://localhost:3000", "--method", "PUT", "-H",
                    "Authorization: Bearer \(Self.token)", "--credentials",
                ])
                #expect(result.status == 0, "\(result.output)")
                let json = result.json
                #expect(json["verdict"] as? String == "allowed")
                #expect(json["stage"] as? String == "actual")
                for key in ["rule", "chrome", "fix", "fixDetails", "server", "localNetworkAccess", "error"] {
                    #expect(json[key] is NSNull, "\(key)")
                }
                #expect(json["firefox"] as? [String] == [])
                #expect(json["exposedHeaders"] as? [String] == ["Total", "Link", "Retry-After"])
                let preflight = try Self.object(json["preflight"])
                let preflightRequest = try Self.object(preflight["request"])
                #expect(preflightRequest["method"] as? String == "OPTIONS")
                #expect(
                    try Self.headers(preflightRequest["headers"]).map { "\($0.0): \($0.1)" } == [
                        "Origin: http://localhost:3000", "Access-Control-Request-Method: PUT",
                        "Access-Control-Request-Headers: authorization",
                    ]
                )
                let preflightResponse = try Self.object(preflight["response"])
                #expect(preflightResponse["status"] as? Int == 204)
                #expect(
                    try Self.headers(preflightResponse["headers"]).contains {
                        $0 == ("Access-Control-Allow-Headers", "Authorization, Content-Type, Procore-Company-Id")
                    }
                )
                let actual = try Self.object(json["actual"])
                let request = try Self.headers(try Self.object(actual["request"])["headers"])
                #expect(request.contains { $0 == ("Authorization", "Bearer …" + Self.token.suffix(4)) })
                #expect(request.contains { $0 == ("Origin", "http://localhost:3000") })
                let response = try Self.object(actual["response"])
                #expect(response["status"] as? Int == 200)
                #expect(
                    try Self.headers(response["headers"]).contains {
                        $0 == ("Access-Control-Allow-Credentials", "true")
                    }
                )
                #expect(
                    upstream.requests.first?.headers.contains { $0 == ("Authorization", "Bearer \(Self.token)") }
                        == true
                )
            }
        }
    }

    @Test("blocked at the preflight by the proxy: the rule, both browsers, the fix with the proxy.json change")
    func preflightBlocked() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await Self.doctor([
                    proxy.url + "/echo", "--origin", "http://localhost:3000", "--method", "PUT", "-H", "X-Custom: 1",
                    "-H", "Authorization: Bearer \(Self.token)",
                ])
                #expect(result.status == 1)
                let json = result.json
                #expect(json["verdict"] as? String == "blocked")
                #expect(json["stage"] as? String == "preflight")
                #expect((json["rule"] as? String)?.hasPrefix("the request sets 'x-custom'") == true)
                #expect(
                    (json["chrome"] as? String)?.hasSuffix(
                        "Request header field x-custom is not allowed by Access-Control-Allow-Headers in preflight response."
                    ) == true
                )
                let firefox = try #require(json["firefox"] as? [String])
                // The reason, then the line for the request never sent (tests/browser/FIREFOX_CONSOLE.md, row j).
                #expect(firefox.count == 2)
                #expect(firefox.first?.contains("header ‘x-custom’ is not allowed") == true)
                #expect(firefox.last?.hasSuffix("(Reason: CORS request did not succeed). Status code: (null).") == true)
                #expect(
                    json["fix"] as? String
                        == "the preflight answer (OPTIONS) must carry \"Access-Control-Allow-Headers: Authorization, Content-Type, Procore-Company-Id, X-Custom\"; proxy.json: add \"X-Custom\" to cors.allowedHeaders"
                )
                let details = try Self.object(json["fixDetails"])
                #expect(details["proxyConfig"] as? [String] == ["add \"X-Custom\" to cors.allowedHeaders"])
                let server = try Self.object(json["server"])
                #expect(server["corsproxy"] as? Bool == true)
                #expect(server["detectedBy"] as? String == "GET /__corsproxy/healthz answers 200 ok")
                #expect(json["actual"] is NSNull, "the request is never sent")
                #expect(try Self.object(try Self.object(json["preflight"])["response"])["status"] as? Int == 204)
                #expect(upstream.requests.isEmpty)
            }
        }
    }

    @Test("blocked at the response by an API without CORS: the headers to send, no proxy.json change")
    func actualBlocked() async throws {
        try await withUpstream { upstream in
            let result = try await Self.doctor([upstream.url + "/echo", "--origin", "http://localhost:3000"])
            #expect(result.status == 1)
            let json = result.json
            #expect(json["verdict"] as? String == "blocked")
            #expect(json["stage"] as? String == "actual")
            #expect(json["preflight"] is NSNull)
            #expect(
                json["fix"] as? String
                    == "the response must carry \"Access-Control-Allow-Origin: http://localhost:3000\" and \"Vary: Origin\""
            )
            #expect(try Self.object(json["server"])["corsproxy"] as? Bool == false)
            #expect(try Self.object(json["fixDetails"])["proxyConfig"] as? [String] == [])
            #expect(try Self.object(try Self.object(json["actual"])["response"])["status"] as? Int == 200)
            #expect(upstream.requests.map(\.uri) == ["/echo", "/__corsproxy/healthz"], "one probe, after the verdict")
        }
    }

    @Test("no server: verdict error, stage null, Chrome's net:: error and a fix")
    func networkError() async throws {
        try await withClosedPort { port in
            let result = try await Self.doctor([
                "http://127.0.0.1:\(port)/x", "--origin", "http://localhost:3000", "-H",
                "Authorization: Bearer \(Self.token)",
            ])
            #expect(result.status == 2)
            let json = result.json
            #expect(json["verdict"] as? String == "error")
            #expect(json["stage"] is NSNull)
            #expect(json["chrome"] as? String == "GET http://127.0.0.1:\(port)/x net::ERR_CONNECTION_REFUSED")
            #expect((json["fix"] as? String)?.hasPrefix("nothing accepts connections") == true)
            #expect((json["firefox"] as? [String])?.first?.contains("CORS request did not succeed") == true)
            let error = try Self.object(json["error"])
            #expect(error["curlCode"] as? Int == 7)
            #expect(error["request"] as? String == "preflight")
            #expect(try Self.object(json["preflight"])["response"] is NSNull)
            #expect(json["actual"] is NSNull)
        }
    }

    @Test(
        "the proxy's own failures name the proxy.json change",
        arguments: [
            (
                "", ["--origin", "http://localhost:3001", "--method", "PUT"],
                "add \"http://localhost:3001\" to cors.allowedOrigins"
            ),
            (
                #", "disallowedOrigin": "omit-headers""#, ["--origin", "http://localhost:3001"],
                "add \"http://localhost:3001\" to cors.allowedOrigins"
            ),
            (#", "allowedMethods": ["GET", "POST"]"#, ["--method", "PUT"], "add \"PUT\" to cors.allowedMethods"),
            ("", ["-H", "X-Custom: 1"], "add \"X-Custom\" to cors.allowedHeaders"),
            ("", ["--credentials"], "set cors.allowCredentials to true"),
        ]
    )
    func proxyFixes(cors: String, arguments: [String], change: String) async throws {
        let config = #"{"allowedOrigins": ["http://localhost:3000"], "allowedHeaders": ["Authorization"]"# + cors + "}"
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url, cors: config)) { proxy in
                let result = try await Self.doctor(
                    [proxy.url + "/echo", "--origin", "http://localhost:3000"] + arguments
                )
                #expect(result.status == 1, "\(result.output)")
                let fix = try #require(result.json["fix"] as? String)
                #expect(fix.hasSuffix("proxy.json: \(change)"), "\(fix)")
                #expect(try Self.object(result.json["fixDetails"])["proxyConfig"] as? [String] == [change])
            }
        }
    }

    @Test("a Host the proxy refuses: the preflight fails on its status, and allowedHosts is the change")
    func hostNotAllowed() async throws {
        try await withUpstream { upstream in
            let config = testConfig(upstream: upstream.url, extra: #""allowedHosts": ["proxy.example"]"#)
            try await withProxy(config) { proxy in
                let result = try await Self.doctor([
                    proxy.url + "/echo", "--origin", "http://localhost:3000", "--method", "PUT",
                ])
                #expect(result.status == 1)
                #expect((result.json["chrome"] as? String)?.hasSuffix("It does not have HTTP ok status.") == true)
                #expect(
                    result.json["fix"] as? String
                        == "corsproxy refused the request's Host 127.0.0.1 with 403; proxy.json: add \"127.0.0.1\" to allowedHosts"
                )
                #expect(try Self.object(result.json["server"])["proxyError"] as? String == "host_not_allowed")
            }
        }
    }

    @Test(
        "another server's bad header sets: the headers it must send instead",
        arguments: [
            (
                "/headers?Access-Control-Allow-Origin=http://localhost:3001", [String](),
                "the response must carry \"Access-Control-Allow-Origin: http://localhost:3000\" and \"Vary: Origin\""
            ),
            (
                "/headers?Access-Control-Allow-Origin=*&Access-Control-Allow-Origin=http://localhost:3000", [],
                "the response must carry \"Access-Control-Allow-Origin: http://localhost:3000\" and \"Vary: Origin\"; send Access-Control-Allow-Origin once: two layers (the API and a proxy in front of it) each add one"
            ),
            (
                "/headers?Access-Control-Allow-Origin=*&Access-Control-Allow-Credentials=true", ["--credentials"],
                "the response must carry \"Access-Control-Allow-Origin: http://localhost:3000\" and \"Vary: Origin\"; or fetch without credentials: 'include' if the page sends only a bearer token (Authorization needs no credentials mode)"
            ),
            (
                "/headers?Access-Control-Allow-Origin=http://localhost:3000&Access-Control-Allow-Methods=GET",
                ["--method", "PUT"],
                "the preflight answer (OPTIONS) must carry \"Access-Control-Allow-Methods: GET, PUT\""
            ),
            (
                "/redirect?to=/echo", ["--method", "PUT"],
                "answer the preflight at this URL without a redirect: fetch the URL it redirects to (/echo); the preflight answer (OPTIONS) must carry \"Access-Control-Allow-Origin: http://localhost:3000\" and \"Access-Control-Allow-Methods: PUT\""
            ),
        ]
    )
    func serverFixes(path: String, arguments: [String], fix: String) async throws {
        try await withUpstream { upstream in
            let result = try await Self.doctor([upstream.url + path, "--origin", "http://localhost:3000"] + arguments)
            #expect(result.status == 1, "\(result.output)")
            #expect(result.json["fix"] as? String == fix)
            #expect(try Self.object(result.json["server"])["corsproxy"] as? Bool == false)
        }
    }

    @Test("a preflight refused with 401: answer OPTIONS before authentication")
    func preflightStatus() async throws {
        let answer =
            "HTTP/1.1 401 Unauthorized\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        try await withRawUpstream(answer: answer) { upstream in
            let result = try await Self.doctor([
                upstream.url + "/me", "--origin", "http://localhost:3000", "-H", "Authorization: Bearer \(Self.token)",
            ])
            #expect(result.status == 1)
            #expect(
                result.json["fix"] as? String
                    == "answer the OPTIONS preflight with 204 (or 200) instead of 401, before any authentication: a preflight never carries Authorization or cookies; the preflight answer (OPTIONS) must carry \"Access-Control-Allow-Headers: Authorization\""
            )
        }
    }

    @Test("corsproxy behind another server (its health check answers): two Allow-Origin lines come from in front")
    func corsproxyBehindAnotherServer() async throws {
        // Answers every request, the health probe too, with `ok` and two Access-Control-Allow-Origin lines.
        let answer =
            "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        try await withRawUpstream(answer: answer) { upstream in
            let result = try await Self.doctor([upstream.url + "/me", "--origin", "http://localhost:3000"])
            #expect(result.status == 1)
            #expect(try Self.object(result.json["server"])["corsproxy"] as? Bool == true)
            #expect(
                (result.json["fix"] as? String)?.contains("the other comes from a server in front of corsproxy") == true
            )
        }
    }

    @Test("an injected fault (X-Corsproxy-Fault) is named as such, not as a server to fix")
    func injectedFault() async throws {
        let answer =
            "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: http://wrong-origin.invalid\r\nX-Corsproxy-Fault: wrong-allow-origin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        try await withRawUpstream(answer: answer) { upstream in
            let result = try await Self.doctor([upstream.url + "/me", "--origin", "http://localhost:3000"])
            #expect(result.status == 1)
            let server = try Self.object(result.json["server"])
            #expect(server["detectedBy"] as? String == "X-Corsproxy-Fault on the answer")
            #expect(
                (result.json["fix"] as? String)?.hasPrefix(
                    "nothing to fix in the server: corsproxy injected the \"wrong-allow-origin\" fault on purpose"
                ) == true
            )
        }
    }

    @Test("a public page fetching 127.0.0.1: Chrome's Local Network Access prompt is predicted, in text and JSON")
    func localNetworkAccess() async throws {
        try await withUpstream { upstream in
            // 203.0.113.0/24 is in no non-public block of the LNA spec: a public address, and no DNS needed.
            let result = try await Self.doctor([upstream.url + "/echo", "--origin", "https://203.0.113.7"])
            let access = try Self.object(result.json["localNetworkAccess"])
            #expect(access["outcome"] as? String == "prompt")
            #expect(try Self.object(access["page"])["addressSpace"] as? String == "public")
            #expect(try Self.object(access["target"])["addressSpace"] as? String == "loopback")
            #expect(try Self.object(access["target"])["address"] as? String == "127.0.0.1")
            #expect((access["message"] as? String)?.contains("Chrome 142 and later asks the user") == true)
            #expect((access["chrome"] as? String)?.hasSuffix("access the `loopback` address space.") == true)
            let text = try await CommandLineTests.corsproxy([
                "doctor", upstream.url + "/echo", "--origin", "https://203.0.113.7",
            ])
            #expect(text.stdout.contains("LNA:       Local Network Access: a public page (https://203.0.113.7)"))
            let insecure = try await Self.doctor([upstream.url + "/echo", "--origin", "http://203.0.113.7"])
            #expect(try Self.object(insecure.json["localNetworkAccess"])["outcome"] as? String == "rejected")
            let local = try await Self.doctor([upstream.url + "/echo", "--origin", "http://localhost:3000"])
            #expect(local.json["localNetworkAccess"] is NSNull, "a loopback page fetching loopback is not checked")
        }
    }

    @Test("the text output never prints the Authorization value either, and ends with the fix")
    func textRedacted() async throws {
        try await withUpstream { upstream in
            let result = try await CommandLineTests.corsproxy([
                "doctor", upstream.url + "/headers?Access-Control-Allow-Origin=*", "--origin",
                "http://localhost:3000", "-H", "Authorization: Bearer \(Self.token)", "--method", "PUT",
            ])
            #expect(result.status == 1)
            #expect(!result.stdout.contains(Self.token))
            #expect(result.stdout.split(separator: "\n").last?.hasPrefix("fix:       ") == true)
        }
    }
}

import Foundation
import Testing

/// Tokens and cookies never appear in logs or in the proxy's own answers.
@Suite("Secrets stay secret")
struct SecretsTests {
    @Test(
        "a full run of varied requests: no token, access_token value or cookie in any log line or error body",
        arguments: ["text", "json"]
    )
    func noSecretsAnywhere(logFormat: String) async throws {
        let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzUxMiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJlLXNlY3JldA"
        let queryToken = "qtok-8c1d5f0e2a7b4c93"
        let cookie = "session=cookie-secret-77aa"
        try await withUpstream { upstream in
            let config = """
                {"routes": [{"prefix": "/", "upstream": "\(upstream.url)"}, {"prefix": "/down/", "upstream": "http://127.0.0.1:1"},
                            {"prefix": "/slow/", "upstream": "\(upstream.url)", "stripPrefix": true}],
                 "cors": {"allowedOrigins": ["http://localhost:3000"], "allowCredentials": true,
                          "allowedHeaders": ["Authorization", "Content-Type"]},
                 "timeouts": {"total": 0.5}, "limits": {"maxBodyBytes": 100}}
                """
            try await withProxyProcess(
                configJSON: config,
                arguments: ["--log-level", "trace", "--log-format", logFormat]
            ) {
                proxy in
                let secrets = ["Authorization: Bearer \(token)", "Cookie: \(cookie)", "Origin: http://localhost:3000"]
                let targets = [
                    "/echo?access_token=\(queryToken)", "/status/401?access_token=\(queryToken)&x=1",
                    "/down/x?access_token=\(queryToken)", "/slow/slow-head?ms=2000&access_token=\(queryToken)",
                    "/nowhere?token=\(queryToken)", "/echo?code=\(queryToken)&state=1",
                ]
                var bodies: [String] = []
                defer { #expect(bodies.count >= 4, "the run produced the proxy's own error answers") }
                for target in targets {
                    let result = try await http(proxy.url + target, headers: secrets)
                    // The upstream echoes what it was sent; the proxy's own answers are the JSON bodies with "error".
                    if (try? result.json())?["error"] != nil {
                        bodies.append(result.text)
                    }
                }
                for origin in ["http://evil.example", "http://localhost:3000/"] {
                    let refused = try await http(
                        proxy.url + "/echo?access_token=\(queryToken)",
                        headers: ["Authorization: Bearer \(token)", "Origin: \(origin)"]
                    )
                    bodies.append(refused.text)
                }
                let preflight = try await http(
                    proxy.url + "/echo?access_token=\(queryToken)",
                    method: "OPTIONS",
                    headers: [
                        "Origin: http://localhost:3000", "Access-Control-Request-Method: PUT",
                        "Access-Control-Request-Headers: x-bad",
                    ]
                )
                #expect(preflight.status == 204)
                let file = try patternFile(count: 1000)
                defer { try? FileManager.default.removeItem(atPath: file) }
                let tooLarge = try await http(
                    proxy.url + "/echo?access_token=\(queryToken)",
                    method: "POST",
                    headers: secrets,
                    bodyFile: file
                )
                #expect(tooLarge.status == 413)
                bodies.append(tooLarge.text)
                _ = try await rawExchange(
                    port: proxy.port,
                    "GET /echo?access_token=\(queryToken) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nBad Header: x\r\n\r\n"
                )
                #expect(try await proxy.stop() == 0)
                let log = proxy.stderr
                #expect(
                    log.split(separator: "\n").filter { $0.contains(#""target":"#) || $0.contains(" ms ") }.count
                        >= targets.count + 4
                )
                for secret in [token, queryToken, "cookie-secret-77aa"] {
                    #expect(!log.contains(secret), "the log contains \(secret)")
                    for body in bodies { #expect(!body.contains(secret), "an error body contains \(secret): \(body)") }
                }
            }
        }
    }
}

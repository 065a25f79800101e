import Foundation
import Testing

/// What outside checks (HTTP lint, RFC 9110/9112) ask of the proxy's own framing and answers.
@Suite("Protocol hygiene")
struct ProtocolHygieneTests {
    static func hasIMFFixdate(_ head: String) -> Bool {
        head.contains(
            /\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT\r\n/
        )
    }

    /// The head of a raw answer: everything up to the blank line.
    static func head(_ answer: String) -> String {
        (answer.components(separatedBy: "\r\n\r\n").first ?? "") + "\r\n"
    }

    @Test("RFC 9110 §6.6.1: every answer of the proxy's own carries one Date, an IMF-fixdate")
    func date() async throws {
        try await withUpstream { upstream in
            try await withClosedPort { closed in
                let config = """
                    {"listen": "127.0.0.1:0",
                     "routes": [{"prefix": "/api/", "upstream": "\(upstream.url)", "stripPrefix": true},
                                {"prefix": "/down/", "upstream": "http://127.0.0.1:\(closed)"}],
                     "cors": \(defaultCORS),
                     "limits": {"maxBodyBytes": 10, "maxHeaderBytes": 4096},
                     "timeouts": {"total": 0.3}}
                    """
                try await withProxy(config) { proxy in
                    let cases: [(String, String)] = [
                        ("200", "GET /__corsproxy/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                        (
                            "204",
                            "OPTIONS /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: PUT\r\n\r\n"
                        ),
                        ("400", "GET /api/x HTTP/1.1\r\nBad Header: x\r\n\r\n"),
                        ("403", "GET /api/x HTTP/1.1\r\nHost: attacker.example\r\n\r\n"),
                        ("404", "GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                        ("413", "POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\n"),
                        (
                            "431",
                            "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 5000))\r\n\r\n"
                        ),
                        ("502", "GET /down/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                        ("504", "GET /api/slow-head?ms=2000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                    ]
                    for (status, request) in cases {
                        // Connection: close, so that the proxy ends each exchange with the connection.
                        let closing = request.replacingOccurrences(
                            of: " HTTP/1.1\r\n",
                            with: " HTTP/1.1\r\nConnection: close\r\n"
                        )
                        let head = Self.head(try await rawExchange(port: proxy.port, closing))
                        #expect(head.hasPrefix("HTTP/1.1 \(status) "), "\(head)")
                        #expect(Self.hasIMFFixdate(head), "\(status): \(head)")
                        #expect(head.components(separatedBy: "\r\nDate: ").count == 2, "\(status): one Date")
                    }
                    // A relayed response keeps the upstream's own Date, and only it.
                    let relayed = Self.head(
                        try await rawExchange(
                            port: proxy.port,
                            "GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                        )
                    )
                    #expect(relayed.components(separatedBy: "\r\nDate: ").count <= 2, "\(relayed)")
                }
            }
        }
    }

    @Test("a body that fails to parse after its head is answered 400 and logged as 400, not as a client that left")
    func badChunkLogged() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let answer = try await rawExchange(
                    port: proxy.port,
                    "POST /slow-head?ms=2000 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
                )
                #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer.prefix(200))")
                let line = try await proxy.logLine(containing: " target=/slow-head")
                #expect(line.contains(" status=400") && line.contains(" error=bad_request"), "\(line)")
                #expect(!line.contains("client closed the connection"), "\(line)")
                #expect(proxy.logLines.filter { $0.contains(" target=/slow-head") }.count == 1)
            }
        }
    }
}

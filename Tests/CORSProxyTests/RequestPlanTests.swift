import CurlBridge
import Foundation
import NIOHTTP1
import Testing

@testable import CORSProxy

/// The plan for a request head on its own: what is answered locally, with which error and CORS answer kind,
/// and what is forwarded where.
@Suite("Request plan")
struct RequestPlanTests {
    static let snapshot = ConfigSnapshot(
        config: try! ProxyConfig.parse(
            Data(
                """
                {"routes": [{"prefix": "/api/", "upstream": "https://api.example.com/v1", "stripPrefix": true},
                            {"prefix": "/files/", "upstream": "https://files.example.com", "http2": true}],
                 "cors": {"allowedOrigins": ["http://localhost:3000"], "allowCredentials": true},
                 "limits": {"maxBodyBytes": 100},
                 "timeouts": {"connect": 2, "total": 0, "idle": 1.5}}
                """.utf8
            )
        )
    )

    static func plan(
        _ method: HTTPMethod = .GET,
        _ uri: String,
        _ headers: [(String, String)] = [("Host", "127.0.0.1:8787")]
    ) -> RequestPlan {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
        return Self.snapshot.plan(for: head, chain: ForwardedChain(peer: IPAddress("10.0.0.7")!))
    }

    /// The local answer's status, error code, CORS answer kind and whether it closes the connection.
    static func local(_ plan: RequestPlan) -> (status: UInt, code: String?, answer: CORSOutcome.Answer, closes: Bool)? {
        guard case .respond(let response, let answer, let closes) = plan.action else { return nil }
        return (response.status.code, response.error?.code, answer, closes)
    }

    @Test("the health check answers before anything else, even without Host; other methods get 405 with Allow")
    func health() throws {
        let ok = try #require(Self.local(Self.plan(.GET, "/__corsproxy/healthz", [])))
        #expect(ok.status == 200 && ok.code == nil && ok.answer == .local)
        let post = Self.plan(.POST, "/__corsproxy/healthz")
        guard case .respond(let response, _, _) = post.action else {
            Issue.record("forwarded")
            return
        }
        #expect(response.status == .methodNotAllowed && response.headers.contains { $0 == ("Allow", "GET, HEAD") })
    }

    @Test(
        "requests refused on their head, in the order of the checks",
        arguments: [
            ("http://evil.example/api/x", [("Host", "127.0.0.1")], 400, "bad_request_target"),
            ("/api/x", [], 400, "missing_host"),
            ("/api/x", [("Host", "127.0.0.1"), ("Host", "127.0.0.1")], 400, "duplicate_host"),
            ("/api/x", [("Host", "evil.example")], 403, "host_not_allowed"),
            ("/api/x", [("Host", "127.0.0.1"), ("Origin", "http://evil.example")], 403, "origin_not_allowed"),
            ("/elsewhere", [("Host", "127.0.0.1")], 404, "no_route"),
        ] as [(String, [(String, String)], UInt, String)]
    )
    func refused(uri: String, headers: [(String, String)], status: UInt, code: String) throws {
        let answer = try #require(Self.local(Self.plan(.GET, uri, headers)))
        #expect(answer.status == status && answer.code == code && answer.answer == .local && !answer.closes)
    }

    @Test("a declared body over maxBodyBytes is refused 413 before it is read, closing the connection")
    func bodyTooLarge() throws {
        let answer = try #require(
            Self.local(Self.plan(.POST, "/api/x", [("Host", "127.0.0.1"), ("Content-Length", "101")]))
        )
        #expect(answer.status == 413 && answer.code == "body_too_large" && answer.closes)
        if case .respond = Self.plan(.POST, "/api/x", [("Host", "127.0.0.1"), ("Content-Length", "100")]).action {
            Issue.record("a body at the limit is refused")
        }
    }

    @Test("preflights are answered as preflights: 204, or 403 for a refused origin, never forwarded")
    func preflights() throws {
        let allowed = try #require(
            Self.local(
                Self.plan(
                    .OPTIONS,
                    "/api/x",
                    [
                        ("Host", "127.0.0.1"), ("Origin", "http://localhost:3000"),
                        ("Access-Control-Request-Method", "PUT"),
                    ]
                )
            )
        )
        #expect(allowed.status == 204 && allowed.answer == .preflight)
        let refused = try #require(
            Self.local(
                Self.plan(
                    .OPTIONS,
                    "/api/x",
                    [
                        ("Host", "127.0.0.1"), ("Origin", "http://evil.example"),
                        ("Access-Control-Request-Method", "PUT"),
                    ]
                )
            )
        )
        #expect(refused.status == 403 && refused.code == "origin_not_allowed" && refused.answer == .preflight)
        // No route is needed for a preflight: the proxy answers it itself.
        let unrouted = try #require(
            Self.local(
                Self.plan(
                    .OPTIONS,
                    "/elsewhere",
                    [
                        ("Host", "127.0.0.1"), ("Origin", "http://localhost:3000"),
                        ("Access-Control-Request-Method", "GET"),
                    ]
                )
            )
        )
        #expect(unrouted.status == 204)
    }

    @Test(
        "a forwarded request: the route's URL with the query byte for byte, filtered headers, the snapshot's timeouts"
    )
    func forwarded() throws {
        let plan = Self.plan(
            .PATCH,
            "/api/projects/1?b=2&a=%20",
            [("Host", "127.0.0.1:8787"), ("Origin", "http://localhost:3000"), ("Connection", "close")]
        )
        guard case .forward(let route, let request) = plan.action else {
            Issue.record("not forwarded")
            return
        }
        #expect(route.prefix == "/api/")
        #expect(request.method == "PATCH" && request.url == "https://api.example.com/v1/projects/1?b=2&a=%20")
        #expect(request.body == .length(0))
        #expect(request.headers.map(\.name) == ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"])
        #expect(request.headers.first?.value == "10.0.0.7")
        #expect(
            request.connectTimeoutMilliseconds == 2000 && request.totalTimeoutMilliseconds == 0
                && request.stallTimeoutSeconds == 2
        )
        #expect(!request.isHTTP2)
        #expect(plan.proxyBase?.url == "http://127.0.0.1:8787")
        guard case .forward(_, let files) = Self.plan(.GET, "/files/a", [("Host", "localhost")]).action else {
            Issue.record("not forwarded")
            return
        }
        #expect(files.isHTTP2 && files.url == "https://files.example.com/files/a" && files.body == .none)
    }

    @Test(
        "the upstream body's framing: chunked stays chunked, a length a length, a bodyless POST, PUT or PATCH sends 0",
        arguments: [
            (HTTPMethod.GET, [], TransferRequest.Body.none),
            (.POST, [], .length(0)),
            (.PUT, [("content-length", "0")], .length(0)),
            (.PATCH, [("Content-Length", "12")], .length(12)),
            (.POST, [("Transfer-Encoding", "gzip, Chunked")], .chunked),
            (.POST, [("content-length", "5"), ("Content-Length", "7")], .length(5)),
            (.DELETE, [], .none),
            (.DELETE, [("Content-Length", "3")], .length(3)),
            (.GET, [("Content-Length", "0")], .none),
            (.HEAD, [("Content-Length", "0")], .none),
            (.OPTIONS, [("Content-Length", "0")], .length(0)),
            (.POST, [("X-Content-Length", "9"), ("Transfer-Encodings", "chunked")], .length(0)),
        ] as [(HTTPMethod, [(String, String)], TransferRequest.Body)]
    )
    func bodyFraming(method: HTTPMethod, headers: [(String, String)], expected: TransferRequest.Body) {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: "/api/x", headers: HTTPHeaders(headers))
        #expect(RequestPlan.bodyFraming(head) == expected)
    }
}

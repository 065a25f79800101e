import NIOCore
import NIOHTTP1
import Testing

@testable import CORSProxy

/// The one writer of `Access-Control-*` and `Vary`, on its own.
@Suite("CORS outcome")
struct CORSOutcomeTests {
    static func policy(_ configure: (inout ProxyConfig.CORS) -> Void = { _ in }) -> CORSPolicy {
        var cors = ProxyConfig.CORS()
        cors.allowedOrigins = [try! OriginPattern.parse("http://localhost:3000").get()]
        cors.allowedHeaders = ["Authorization"]
        cors.exposedHeaders = ["Total"]
        cors.allowCredentials = true
        configure(&cors)
        return CORSPolicy(configuration: cors)
    }

    static func outcome(
        _ method: HTTPMethod = .GET,
        origin: String? = "http://localhost:3000",
        headers: [(String, String)] = [],
        policy: CORSPolicy = Self.policy()
    ) -> CORSOutcome {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: "/x", headers: HTTPHeaders(headers))
        if let origin { head.headers.add(name: "Origin", value: origin) }
        return CORSOutcome(
            head: head,
            verdict: policy.judge(origin: origin),
            policy: policy,
            headers: .init(policy: policy)
        )
    }

    static func written(_ outcome: CORSOutcome, _ answer: CORSOutcome.Answer, upstreamVary: [String] = []) -> String {
        var buffer = ByteBuffer()
        outcome.write(answer, upstreamVary: upstreamVary, into: &buffer)
        return String(buffer: buffer)
    }

    @Test("an allowed origin: actual headers on local and relayed answers, preflight headers on the preflight")
    func allowed() {
        let outcome = Self.outcome(.OPTIONS, headers: [("Access-Control-Request-Method", "PUT")])
        #expect(outcome.stage == .preflight && outcome.disposition == .emit && outcome.preflightRefusal == nil)
        #expect(
            Self.written(outcome, .preflight)
                == "Access-Control-Allow-Origin: http://localhost:3000\r\nAccess-Control-Allow-Credentials: true\r\n"
                + "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, PATCH, DELETE\r\n"
                + "Access-Control-Allow-Headers: Authorization\r\nAccess-Control-Max-Age: 600\r\n"
                + "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n"
        )
        let actual =
            "Access-Control-Allow-Origin: http://localhost:3000\r\nAccess-Control-Allow-Credentials: true\r\n"
            + "Access-Control-Expose-Headers: Total\r\n"
        #expect(Self.written(outcome, .local) == actual + "Vary: Origin\r\n")
        #expect(
            Self.written(outcome, .relayed, upstreamVary: ["Accept-Encoding"]) == actual
                + "Vary: Accept-Encoding, Origin\r\n"
        )
    }

    @Test("no Origin, or a refused one: no CORS headers, but Vary: Origin everywhere")
    func withoutHeaders() {
        for outcome in [Self.outcome(origin: nil), Self.outcome(origin: "http://evil.example")] {
            #expect(outcome.lines(for: .local).isEmpty && outcome.lines(for: .relayed).isEmpty)
            #expect(Self.written(outcome, .local) == "Vary: Origin\r\n")
        }
        #expect(Self.outcome(origin: nil).stage == .none && Self.outcome(origin: nil).disposition == .omit)
        #expect(Self.outcome(origin: "http://evil.example").disposition == .reject)
        let omit = Self.outcome(
            origin: "http://evil.example",
            policy: Self.policy { $0.disallowedOrigin = .omitHeaders }
        )
        #expect(omit.disposition == .omit && omit.stage == .actual)
    }

    @Test("OPTIONS without Access-Control-Request-Method is an actual request")
    func plainOptions() {
        #expect(Self.outcome(.OPTIONS).stage == .actual)
    }

    @Test("private network access: granted only when asked for and allowed; refused otherwise")
    func privateNetwork() {
        let asks = [("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Private-Network", "true")]
        let on = Self.outcome(.OPTIONS, headers: asks, policy: Self.policy { $0.allowPrivateNetwork = true })
        #expect(on.lines(for: .preflight).contains { $0 == ("Access-Control-Allow-Private-Network", "true") })
        #expect(on.headers.preflightVary.hasSuffix(", Access-Control-Request-Private-Network"))
        let off = Self.outcome(.OPTIONS, headers: asks)
        #expect(!off.lines(for: .preflight).contains { $0.name == "Access-Control-Allow-Private-Network" })
        #expect(off.preflightRefusal == .privateNetwork)
    }

    @Test("a preflight the policy refuses still carries the allowed lists: the browser does the refusing")
    func refusedPreflight() {
        let outcome = Self.outcome(.OPTIONS, headers: [("Access-Control-Request-Method", "PROPFIND")])
        #expect(outcome.preflightRefusal == .method("PROPFIND", allowed: "GET, HEAD, POST, PUT, PATCH, DELETE"))
        #expect(outcome.lines(for: .preflight).first?.name == "Access-Control-Allow-Origin")
    }

    @Test(
        "a relayed Vary keeps the upstream's values and order, adds Origin once ignoring case, and keeps * alone",
        arguments: [
            ([], "Origin"),
            (["Accept-Encoding"], "Accept-Encoding, Origin"),
            (["origin", "Accept"], "origin, Accept"),
            (["ORIGIN"], "ORIGIN"),
            (["*"], "*"),
            (["Accept", "*"], "*"),
            (["Accept", "Accept"], "Accept, Accept, Origin"),
        ]
    )
    func relayedVary(upstream: [String], expected: String) {
        var buffer = ByteBuffer()
        CORSOutcome.writeRelayedVary(upstream, into: &buffer)
        #expect(String(buffer: buffer) == "Vary: \(expected)\r\n")
    }
}

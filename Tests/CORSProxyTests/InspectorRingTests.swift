import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CORSProxy

/// The inspector's ring on its own: bounded whatever the traffic, reads from a cursor, misses counted.
@Suite("Inspector ring")
struct InspectorRingTests {
    static let snapshot = ConfigSnapshot(
        config: try! ProxyConfig.parse(
            Data(
                #"{"routes": [{"prefix": "/", "upstream": "http://127.0.0.1:1"}], "cors": {"allowedOrigins": ["http://localhost:3000"]}}"#
                    .utf8
            )
        )
    )

    /// A finished exchange with a response head kept, as the proxy records one with an inspector attached.
    static func record(_ index: Int) -> ExchangeRecord {
        let head = HTTPRequestHead(
            version: .http1_1,
            method: .GET,
            uri: "/items/\(index)?access_token=secret",
            headers: [
                "Host": "127.0.0.1:8787", "Origin": "http://localhost:3000", "Authorization": "Bearer abcdefgh12345678",
            ]
        )
        let verdict = Self.snapshot.policy.judge(origin: "http://localhost:3000")
        let cors = Self.snapshot.outcome(
            for: head,
            verdict: verdict,
            origin: Origin("http://localhost:3000"),
            route: nil
        )
        let exchange = Exchange(id: index, head: head, snapshot: Self.snapshot, cors: cors, started: .now())
        exchange.status = 200
        exchange.answer = .relayed
        exchange.corsLinesSent = [("Access-Control-Allow-Origin", "http://localhost:3000")]
        exchange.responseHead = ByteBuffer(
            string:
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: s=abc; Path=/\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\n\r\n"
        )
        return exchange.record(now: .now(), note: nil)
    }

    @Test("an entry is found by its request id until evicted; the detail redacts its headers")
    func lookupAndDetail() throws {
        let ring = InspectorRing(capacity: 2)
        let first = Self.record(1)
        ring.record(first)
        let entry = try #require(ring.entry(id: first.requestID.description))
        let detail = String(buffer: InspectorDetail.json(entry))
        #expect(!detail.contains("abcdefgh12345678") && !detail.contains("=secret") && !detail.contains("s=abc"))
        #expect(detail.contains("Bearer …5678") && detail.contains("s=REDACTED; Path=/"))
        ring.record(Self.record(2))
        ring.record(Self.record(3))
        #expect(ring.entry(id: first.requestID.description) == nil)
    }

    @Test("credentials show their scheme and last four characters only when long enough")
    func credentials() {
        #expect(Redaction.credential("Bearer secret-token-1234abcd") == "Bearer …abcd")
        #expect(Redaction.credential("Basic c2hvcnQ=") == "Basic …")
        #expect(Redaction.header(name: "X-Api-Key", value: "k") == "REDACTED")
        #expect(Redaction.header(name: "Cookie", value: "a=1; b=2") == "a=REDACTED; b=REDACTED")
    }

    @Test("an implicit grant's redirect Location keeps its token out: fragment parameters are redacted too")
    func locationFragment() {
        let location = "http://localhost:3000/?a=1#access_token=s3cret&token_type=bearer"
        #expect(
            Redaction.header(name: "Location", value: location)
                == "http://localhost:3000/?a=1#access_token=REDACTED&token_type=bearer"
        )
        #expect(Redaction.target("/cb#state=x&code=abc") == "/cb#state=x&code=REDACTED")
        #expect(Redaction.target("/me?page=2&token=t#x") == "/me?page=2&token=REDACTED#x")
        #expect(Redaction.target("/me?page=2") == "/me?page=2")
        // Delimiters are bytes: a combining mark after `?`, `&` or `#` does not hide the secret after it.
        #expect(Redaction.target("/x?\u{301}&access_token=SECRET") == "/x?\u{301}&access_token=REDACTED")
        #expect(Redaction.target("/x#\u{301}&access_token=SECRET") == "/x#\u{301}&access_token=REDACTED")
    }
}

import CurlBridge
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import CORSProxy

/// Collects the records an exchange emits.
final class CollectingSink: ExchangeSink {
    private let box = NIOLockedValueBox<[ExchangeRecord]>([])

    var records: [ExchangeRecord] { self.box.withLockedValue { $0 } }

    func record(_ record: ExchangeRecord) {
        self.box.withLockedValue { $0.append(record) }
    }
}

/// ``ProxyHandler`` on an `EmbeddedChannel` with NIO's request decoder and the proxy's encoder: bytes in, bytes
/// out, time advanced by hand. Everything here is answered by the proxy itself, so no transfer starts.
struct EmbeddedProxy {
    static let curl: CurlLoop = {
        _ = curlGlobal
        return CurlLoop(logger: Logger(label: "embedded"))
    }()

    let channel: EmbeddedChannel
    let store: ConfigStore
    let sink = CollectingSink()
    let observers: ExchangeObservers

    init(
        _ configJSON: String = testConfig(upstream: "http://127.0.0.1:1", extra: #""timeouts": {"clientHeader": 5}"#)
    ) throws {
        self.store = ConfigStore(ConfigSnapshot(config: try ProxyConfig.parse(Data(configJSON.utf8))))
        self.channel = EmbeddedChannel()
        self.observers = ExchangeObservers(sinks: [self.sink])
        let date = NIOLoopBoundBox.makeBoxSendingValue(HTTPDate(), eventLoop: self.channel.eventLoop)
        try self.channel.pipeline.syncOperations.addHandler(ResponseEncoder())
        try self.channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
        try self.channel.pipeline.syncOperations.addHandler(
            ProxyHandler(
                store: self.store,
                limiter: RateLimiter(),
                curl: Self.curl,
                observers: self.observers,
                budget: UpstreamBudget(),
                date: date,
                logger: Logger(label: "embedded")
            )
        )
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    /// Writes `text` as the client and returns everything the proxy wrote back.
    func send(_ text: String) throws -> String {
        do {
            try self.channel.writeInbound(ByteBuffer(string: text))
        } catch is HTTPParserError {
            // The decoder rethrows its error after the handler answered it.
        }
        return try self.output()
    }

    func output() throws -> String {
        var text = ""
        while let data = try self.channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text
    }
}

@Suite("Proxy handler (EmbeddedChannel)")
struct ProxyHandlerTests {
    static let health = "GET /__corsproxy/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    @Test("a local answer carries Date, Vary, its length, and one record")
    func localAnswer() throws {
        let proxy = try EmbeddedProxy()
        let answer = try proxy.send(Self.health)
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains("\r\nVary: Origin\r\n"))
        #expect(answer.contains("\r\nContent-Length: 2\r\n"))
        #expect(answer.hasSuffix("\r\n\r\nok"))
        let date = try #require(answer.split(separator: "\r\n").first { $0.hasPrefix("Date: ") })
        #expect(
            date.wholeMatch(
                of:
                    /Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT/
            ) != nil
        )
        #expect(proxy.channel.isActive)
        let record = try #require(proxy.sink.records.first)
        #expect(proxy.sink.records.count == 1)
        #expect(record.status == 200 && record.method == "GET" && record.target == "/__corsproxy/healthz")
        #expect(record.cors.stage == .none && record.corsLinesSent?.isEmpty == true)
    }

    @Test("pipelined requests are answered in order, one record each")
    func pipelined() throws {
        let proxy = try EmbeddedProxy()
        let answers = try proxy.send(Self.health + "GET /nowhere HTTP/1.1\r\nHost: nope.example\r\n\r\n" + Self.health)
        let statuses = answers.matches(of: /HTTP\/1.1 (\d{3})/).map { String($0.1) }
        #expect(statuses == ["200", "403", "200"])
        #expect(proxy.sink.records.map(\.status) == [200, 403, 200])
        #expect(proxy.sink.records.map(\.errorCode) == [nil, "host_not_allowed", nil])
        #expect(Set(proxy.sink.records.map(\.requestID)).count == 3)
    }

    @Test("no complete head within clientHeader: the connection closes, on the loop's own clock")
    func headDeadline() throws {
        let proxy = try EmbeddedProxy()
        _ = try proxy.send("GET / HTTP/1.1\r\nHost: 12")
        proxy.channel.embeddedEventLoop.advanceTime(by: .milliseconds(4900))
        #expect(proxy.channel.isActive)
        proxy.channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        #expect(!proxy.channel.isActive)
    }

    @Test("an idle kept-alive connection gets a new head deadline after each exchange")
    func keepAliveDeadline() throws {
        let proxy = try EmbeddedProxy()
        proxy.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        _ = try proxy.send(Self.health)
        proxy.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(proxy.channel.isActive)
        proxy.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!proxy.channel.isActive)
    }

    @Test("a malformed request is answered 400 with Connection: close, and the connection closes")
    func malformed() throws {
        let proxy = try EmbeddedProxy()
        let answer = try proxy.send("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(answer.contains("\r\nConnection: close\r\n") && answer.contains("\r\nDate: "))
        #expect(answer.contains(#""error":"bad_request""#))
        proxy.channel.embeddedEventLoop.run()
        #expect(!proxy.channel.isActive)
    }

    @Test("RFC 9112 §3.2: two Host headers are answered 400")
    func twoHosts() throws {
        let proxy = try EmbeddedProxy()
        let answer = try proxy.send("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(answer.contains(#""error":"duplicate_host""#))
        #expect(proxy.sink.records.first?.errorCode == "duplicate_host")
    }

    @Test("RFC 9112 §6.1: an HTTP/1.0 request with Transfer-Encoding is not kept alive")
    func http10Chunked() throws {
        let proxy = try EmbeddedProxy()
        let answer = try proxy.send(
            "POST /__corsproxy/healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        #expect(answer.hasPrefix("HTTP/1.0 405 Method Not Allowed\r\n"))
        #expect(!answer.lowercased().contains("connection: keep-alive"))
        proxy.channel.embeddedEventLoop.run()
        #expect(!proxy.channel.isActive)
    }

    @Test("HTTP/1.0 keep-alive without Transfer-Encoding is announced and kept")
    func http10KeepAlive() throws {
        let proxy = try EmbeddedProxy()
        let answer = try proxy.send(
            "GET /__corsproxy/healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
        )
        #expect(answer.contains("\r\nConnection: keep-alive\r\n"))
        #expect(proxy.channel.isActive)
    }

    @Test("graceful shutdown closes an idle connection at once")
    func quiesceIdle() throws {
        let proxy = try EmbeddedProxy()
        proxy.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        proxy.channel.embeddedEventLoop.run()
        #expect(!proxy.channel.isActive)
    }

    @Test(
        "a replaced config applies from the next request on a kept-alive connection, and the verdict cache follows it"
    )
    func replacedSnapshot() throws {
        let proxy = try EmbeddedProxy()
        let request = "GET /__corsproxy/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\n\r\n"
        let allowed = try proxy.send(request)
        #expect(allowed.contains("\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\n"))
        let other = testConfig(upstream: "http://127.0.0.1:1", cors: #"{"allowedOrigins": ["http://localhost:5173"]}"#)
        proxy.store.replace(with: ConfigSnapshot(config: try ProxyConfig.parse(Data(other.utf8))))
        // Not the health check: it answers before the origin is refused.
        let refused = try proxy.send(request.replacingOccurrences(of: "/__corsproxy/healthz", with: "/x"))
        #expect(refused.hasPrefix("HTTP/1.1 403 Forbidden\r\n") && !refused.contains("Access-Control-Allow-Origin"))
        #expect(proxy.sink.records.map { $0.cors.disposition } == [.emit, .reject])
        let record = try #require(proxy.sink.records.last)
        let json = AccessLog.json(record, time: .now())
        let line = try #require(JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
        #expect(
            line["chrome"] as? String
                == "Access to fetch at 'http://127.0.0.1/x' from origin 'http://localhost:3000' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource."
        )
        #expect(
            line["firefox"] as? String
                == "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://127.0.0.1/x. (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 403."
        )
    }

    @Test("an exchange keeps the snapshot of its head: a replacement while its body arrives does not touch it")
    func pinnedSnapshot() throws {
        let proxy = try EmbeddedProxy()
        _ = try proxy.send(
            "POST /__corsproxy/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\nContent-Length: 4\r\n\r\nab"
        )
        let other = testConfig(upstream: "http://127.0.0.1:1", cors: #"{"allowedOrigins": ["http://localhost:5173"]}"#)
        let replacement = ConfigSnapshot(config: try ProxyConfig.parse(Data(other.utf8)))
        proxy.store.replace(with: replacement)
        _ = try proxy.send("cd")
        let record = try #require(proxy.sink.records.first)
        #expect(record.cors.disposition == .emit)
        #expect(record.status == 405)
    }
}

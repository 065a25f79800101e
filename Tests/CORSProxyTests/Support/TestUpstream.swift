import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 server on 127.0.0.1:0 that plays the upstream API. It records every connection and request so
/// tests can prove what reached it (and what did not).
///
/// Paths:
/// - `/echo…` (any method): JSON `{method, uri, headers: [[name, value]], bodyLength, bodySHA256}`;
/// - `/bytes/N`: N bytes of ``TestUpstream/pattern(count:)`` with `Content-Length`, paced by write completion;
/// - `/infinite`: an endless body, paced the same way;
/// - `/status/N`: status N with a small JSON body;
/// - `/slow-head?ms=N`: the head after N ms;
/// - `/stall`: a head promising 1000 bytes, 10 of them, then nothing;
/// - `/reset-before-head`: the connection closed without an answer;
/// - `/reset-mid-body`: a head promising 1000 bytes, 10 of them, then the connection closed;
/// - `/headers?name=value&…`: a 200 with those response headers (repeated names allowed);
/// - `/redirect?to=URL`: a 302 to URL;
/// - `/slow-read…`: like `/echo`, but reads the request body slowly (5 ms between socket reads).
final class TestUpstream: StoppableServer {
    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var bodyLength: Int
        var bodySHA256: String
    }

    struct Record: Sendable {
        var connectionsOpened = 0
        var connectionsClosed = 0
        var requests: [Request] = []
        var bytesStreamed = 0
    }

    let record = NIOLockedValueBox(Record())
    private let channel: any Channel
    let port: Int

    var url: String { "http://127.0.0.1:\(self.port)" }

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    static func start() async throws -> TestUpstream {
        let box = NIOLockedValueBox<TestUpstream?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    let upstream = box.withLockedValue { $0 }!
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(upstream: upstream))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let upstream = TestUpstream(channel: channel)
        box.withLockedValue { $0 = upstream }
        return upstream
    }

    func stop() async {
        try? await self.channel.close()
    }

    var requests: [Request] { self.record.withLockedValue { $0.requests } }
    var connectionsOpened: Int { self.record.withLockedValue { $0.connectionsOpened } }
    var connectionsClosed: Int { self.record.withLockedValue { $0.connectionsClosed } }
    var bytesStreamed: Int { self.record.withLockedValue { $0.bytesStreamed } }

    /// Waits until `condition` holds on the record, polling; fails after `timeout`.
    func waitFor(
        _ what: String,
        timeout: Duration = .seconds(10),
        _ condition: @Sendable (Record) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !self.record.withLockedValue({ condition($0) }) {
            guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The deterministic body of `/bytes/N`: a pseudo-random table whose length (a prime) is no multiple of any
    /// chunk size, so a shifted, repeated or dropped chunk changes the digest.
    static let table: [UInt8] = (0..<1_000_003).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }

    static func pattern(offset: Int, count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        var position = offset % self.table.count
        while bytes.count < count {
            let n = min(count - bytes.count, self.table.count - position)
            bytes += self.table[position..<(position + n)]
            position = 0
        }
        return bytes
    }

    static func patternSHA256(count: Int) -> String {
        var hasher = SHA256()
        var offset = 0
        while offset < count {
            let n = min(1 << 20, count - offset)
            hasher.update(data: pattern(offset: offset, count: n))
            offset += n
        }
        return hasher.finalize().hex
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Digest {
    var hex: String { self.map { String(format: "%02x", $0) }.joined() }
}

private final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let upstream: TestUpstream
    var head: HTTPRequestHead?
    var hasher = SHA256()
    var bodyLength = 0
    /// Set by `/slow-read`: each socket read waits 5 ms, so the upstream consumes an upload slowly.
    var isSlowReader = false

    init(upstream: TestUpstream) {
        self.upstream = upstream
    }

    func channelActive(context: ChannelHandlerContext) {
        self.upstream.record.withLockedValue { $0.connectionsOpened += 1 }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.upstream.record.withLockedValue { $0.connectionsClosed += 1 }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.isSlowReader = head.uri.hasPrefix("/slow-read")
            self.hasher = SHA256()
            self.bodyLength = 0
        case .body(let buffer):
            buffer.withUnsafeReadableBytes { self.hasher.update(bufferPointer: $0) }
            self.bodyLength += buffer.readableBytes
        case .end:
            guard let head = self.head else { return }
            let request = TestUpstream.Request(
                method: head.method.rawValue,
                uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) },
                bodyLength: self.bodyLength,
                bodySHA256: self.hasher.finalize().hex
            )
            self.upstream.record.withLockedValue { $0.requests.append(request) }
            self.respond(to: request, context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        guard self.isSlowReader else { return context.read() }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(5)) { bound.value.read() }
    }

    private func respond(to request: TestUpstream.Request, context: ChannelHandlerContext) {
        let components = URLComponents(string: request.uri)
        let path = components?.path ?? request.uri
        let query = components?.queryItems ?? []
        if path.hasPrefix("/bytes/"), let count = Int(path.dropFirst("/bytes/".count)) {
            var headers = HTTPHeaders([("Content-Type", "application/octet-stream"), ("Content-Length", "\(count)")])
            headers.add(name: "X-Upstream", value: "bytes")
            self.writeHead(.ok, headers, context: context)
            self.stream(offset: 0, count: request.method == "HEAD" ? 0 : count, context: context)
        } else if path == "/unframed" {
            // No Content-Length: NIO frames it chunked, in as many chunks as there are parts.
            let parts = Int(query.first { $0.name == "parts" }?.value ?? "3") ?? 3
            self.writeHead(.ok, HTTPHeaders([("Content-Type", "text/plain")]), context: context)
            for index in 0..<parts {
                context.writeAndFlush(
                    self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "part \(index)\n")))),
                    promise: nil
                )
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        } else if path == "/no-content" {
            self.writeHead(.noContent, HTTPHeaders([("X-Upstream", "204")]), context: context)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        } else if path == "/not-modified" {
            self.writeHead(.notModified, HTTPHeaders([("ETag", "\"v1\"")]), context: context)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        } else if path == "/infinite" {
            self.writeHead(.ok, HTTPHeaders([("Content-Type", "application/octet-stream")]), context: context)
            self.stream(offset: 0, count: Int.max, context: context)
        } else if path.hasPrefix("/status/"), let code = Int(path.dropFirst("/status/".count)) {
            var headers = HTTPHeaders([("Content-Type", "application/json")])
            if code == 429 { headers.add(name: "Retry-After", value: "7") }
            self.writeSimple(
                HTTPResponseStatus(statusCode: code),
                headers,
                body: "{\"status\":\(code)}",
                context: context
            )
        } else if path == "/slow-head" {
            let ms = Int(query.first { $0.name == "ms" }?.value ?? "1000") ?? 1000
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
                let (handler, context) = bound.value
                handler.writeSimple(.ok, HTTPHeaders([("Content-Type", "text/plain")]), body: "slow", context: context)
            }
        } else if path == "/reset-before-head" {
            context.close(promise: nil)
        } else if path == "/reset-mid-body" {
            self.writeHead(.ok, HTTPHeaders([("Content-Length", "1000")]), context: context)
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "0123456789")))))
                .whenComplete { _ in
                    channel.close(promise: nil)
                }
        } else if path == "/stall" {
            self.writeHead(.ok, HTTPHeaders([("Content-Length", "1000")]), context: context)
            context.writeAndFlush(
                self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "0123456789")))),
                promise: nil
            )
        } else if path == "/headers" {
            var headers = HTTPHeaders()
            for item in query { headers.add(name: item.name, value: item.value ?? "") }
            self.writeSimple(.ok, headers, body: "headers", context: context)
        } else if path == "/redirect" {
            let target = query.first { $0.name == "to" }?.value ?? "/"
            self.writeSimple(.found, HTTPHeaders([("Location", target)]), body: "", context: context)
        } else {
            let json: [String: Any] = [
                "method": request.method,
                "uri": request.uri,
                "headers": request.headers.map { [$0.0, $0.1] },
                "bodyLength": request.bodyLength,
                "bodySHA256": request.bodySHA256,
            ]
            let body = String(
                decoding: try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
                as: UTF8.self
            )
            self.writeSimple(.ok, HTTPHeaders([("Content-Type", "application/json")]), body: body, context: context)
        }
    }

    private func writeHead(_ status: HTTPResponseStatus, _ headers: HTTPHeaders, context: ChannelHandlerContext) {
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
    }

    private func writeSimple(
        _ status: HTTPResponseStatus,
        _ headers: HTTPHeaders,
        body: String,
        context: ChannelHandlerContext
    ) {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Length", value: "\(body.utf8.count)")
        self.writeHead(status, headers, context: context)
        if !body.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        }
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Writes `count` pattern bytes, 64 KiB at a time, each chunk after the previous one's write completed: a
    /// slow reader slows this writer, as a real upstream's socket would.
    private func stream(offset: Int, count: Int, context: ChannelHandlerContext) {
        guard offset < count else {
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let n = min(64 * 1024, count - offset)
        let buffer = ByteBuffer(bytes: TestUpstream.pattern(offset: offset, count: n))
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(buffer)))).whenComplete { result in
            guard case .success = result else { return }
            bound.value.0.upstream.record.withLockedValue { $0.bytesStreamed += n }
            // A write to a socket with room completes at once, inside writeAndFlush: streaming the next chunk
            // from here would recurse once per chunk for as long as the reader keeps up (an /infinite body
            // overflowed the event loop's stack). The next chunk starts from the loop instead.
            bound.eventLoop.execute {
                let (handler, context) = bound.value
                handler.stream(offset: offset + n, count: count, context: context)
            }
        }
    }
}

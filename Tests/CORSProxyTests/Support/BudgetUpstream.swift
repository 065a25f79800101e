import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An upstream that rate-limits like Procore: per `Authorization` value, `limit` requests per window of
/// `windowSeconds`, every request counted (a 429 too), and on every answer `X-Rate-Limit-Limit`,
/// `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (Unix seconds, the window's end). A token's window starts
/// with its first request and a new one starts with the first request after the reset. It records each request
/// it sees, with its token and the remaining count it answered, so a test can prove none arrived when it must not.
final class BudgetUpstream: StoppableServer {
    struct Request: Sendable {
        var token: String
        /// Unix seconds when it arrived.
        var time: Double
        var remaining: Int
        var reset: Int64
    }

    fileprivate struct Window {
        var remaining: Int
        var reset: Int64
    }

    fileprivate struct State {
        var windows: [String: Window] = [:]
        var requests: [Request] = []
    }

    let limit: Int
    let windowSeconds: Int64
    let port: Int
    private let state: NIOLockedValueBox<State>
    private let channel: any Channel

    var url: String { "http://127.0.0.1:\(self.port)" }
    var requests: [Request] { self.state.withLockedValue { $0.requests } }

    private init(limit: Int, windowSeconds: Int64, state: NIOLockedValueBox<State>, channel: any Channel) {
        self.limit = limit
        self.windowSeconds = windowSeconds
        self.state = state
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    /// Starts it on 127.0.0.1:0.
    static func start(limit: Int, windowSeconds: Int64) async throws -> BudgetUpstream {
        let state = NIOLockedValueBox(State())
        let counter = Counter(limit: limit, windowSeconds: windowSeconds, state: state)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return BudgetUpstream(limit: limit, windowSeconds: windowSeconds, state: state, channel: channel)
    }

    func stop() async {
        try? await self.channel.close()
    }

    /// The requests of `token` seen so far.
    func requests(of token: String) -> [Request] {
        self.requests.filter { $0.token == token }
    }

    /// Counts each request as the upstream's rate limiter does.
    private struct Counter: Sendable {
        let limit: Int
        let windowSeconds: Int64
        let state: NIOLockedValueBox<State>

        /// Counts one request of `token` and returns the answer's status and rate-limit values.
        func count(token: String) -> (status: HTTPResponseStatus, remaining: Int, reset: Int64) {
            let now = Date.now.timeIntervalSince1970
            return self.state.withLockedValue { state in
                var window = state.windows[token] ?? Window(remaining: self.limit, reset: 0)
                if now >= Double(window.reset) {
                    window = Window(remaining: self.limit, reset: Int64(now) + self.windowSeconds)
                }
                let status: HTTPResponseStatus = window.remaining > 0 ? .ok : .tooManyRequests
                window.remaining = max(0, window.remaining - 1)
                state.windows[token] = window
                state.requests.append(
                    Request(token: token, time: now, remaining: window.remaining, reset: window.reset)
                )
                return (status, window.remaining, window.reset)
            }
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let counter: Counter
        private var token = ""

        init(counter: Counter) { self.counter = counter }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.token = head.headers.first(name: "authorization") ?? ""
            case .body:
                break
            case .end:
                let answer = self.counter.count(token: self.token)
                let body = ByteBuffer(string: #"{"ok": \#(answer.status == .ok)}"#)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(body.readableBytes))
                headers.add(name: "X-Rate-Limit-Limit", value: String(self.counter.limit))
                headers.add(name: "X-Rate-Limit-Remaining", value: String(answer.remaining))
                headers.add(name: "X-Rate-Limit-Reset", value: String(answer.reset))
                context.write(
                    self.wrapOutboundOut(
                        .head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))
                    ),
                    promise: nil
                )
                context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

internal import NIOCore
internal import NIOHTTP1

/// Answers requests NIO's decoder cannot parse: 431 when the head is too large, 400 otherwise, each with a JSON
/// body, then lets the decoder close the connection. Nothing of such a request is ever forwarded. The answer is
/// written only when it would be read as the answer to the request that failed: not when an earlier request on the
/// connection is still unanswered, nor once the failing request's own response has started. Then the connection
/// just closes.
///
/// Modelled on NIO's `HTTPServerProtocolErrorHandler`, which answers every parser error with a bare 400.
final class ProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    /// Request heads decoded minus responses ended: what the client still waits for.
    private var unansweredRequests = 0
    /// A request head was decoded and its end not yet: a parser error now is in that request's body.
    private var isReadingBody = false
    /// The oldest unanswered request's response has started.
    private var isResponseStarted = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        // The decoder closes the channel right after this returns: write now or never.
        if self.unansweredRequests == (self.isReadingBody ? 1 : 0) && !self.isResponseStarted {
            let response: ProxyResponse =
                parserError == .headerOverflow
                ? .json(.requestHeaderFieldsTooLarge, error: "headers_too_large", message: "the request head is larger than limits.maxHeaderBytes")
                : .json(.badRequest, error: "bad_request", message: "malformed HTTP request: \(parserError)")
            var headers = response.headers
            headers.add(name: "Connection", value: "close")
            headers.add(name: "Content-Length", value: String(response.body.readableBytes))
            let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(self.wrapOutboundOut(.body(response.body)), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end), promise: nil)
        }
        context.fireErrorCaught(error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head:
            self.unansweredRequests += 1
            self.isReadingBody = true
        case .end:
            self.isReadingBody = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            self.isResponseStarted = true
        case .serializedHead:
            self.isResponseStarted = true
        case .end:
            self.unansweredRequests -= 1
            self.isResponseStarted = false
        case .head, .body:
            break
        }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension ProtocolErrorHandler: Sendable {}

internal import NIOCore
internal import NIOHTTP1

/// Answers requests NIO's decoder cannot parse: 431 when the head is too large, 400 otherwise, each with a JSON
/// body, then lets the decoder close the connection. Nothing of such a request is ever forwarded.
///
/// Modelled on NIO's `HTTPServerProtocolErrorHandler`, which answers every parser error with a bare 400.
final class ProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    private var hasUnterminatedResponse = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        // The decoder closes the channel right after this returns: write now or never.
        if !self.hasUnterminatedResponse {
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

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            self.hasUnterminatedResponse = true
        case .serializedHead:
            self.hasUnterminatedResponse = true
        case .end:
            self.hasUnterminatedResponse = false
        case .head, .body:
            break
        }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension ProtocolErrorHandler: Sendable {}

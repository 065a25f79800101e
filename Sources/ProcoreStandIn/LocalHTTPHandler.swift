internal import NIOCore
internal import NIOHTTP1

/// Turns each aggregated request into a ``LocalHTTPServer/Request``, asks the handler, and writes the answer.
final class LocalHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = NIOHTTPServerRequestFull
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: LocalHTTPServer.Handler

    init(handler: @escaping LocalHTTPServer.Handler) {
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let full = self.unwrapInboundIn(data)
        let request = LocalHTTPServer.Request(
            method: full.head.method.rawValue,
            target: full.head.uri,
            headers: full.head.headers.map { (name: $0.name, value: $0.value) },
            body: full.body.map { Array($0.readableBytesView) } ?? []
        )
        let response = self.handler(request)
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
        let keepAlive = full.head.isKeepAlive
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: full.head.version,
            status: HTTPResponseStatus(statusCode: response.status),
            headers: headers
        )
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if full.head.method != .HEAD, !response.body.isEmpty {
            let buffer = context.channel.allocator.buffer(bytes: response.body)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive {
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension LocalHTTPHandler: Sendable {}

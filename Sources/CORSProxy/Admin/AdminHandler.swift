internal import NIOCore
internal import NIOHTTP1

/// One admin connection, behind NIO's HTTP/1.1 server pipeline (which orders pipelined requests and closes the
/// connection on quiescing). It answers each request when its end arrives, from ``AdminRoute``; request bodies
/// are ignored. Event loop only.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let source: AdminRoute.Source
    private var head: HTTPRequestHead?

    /// - Parameter source: What the endpoints read.
    init(source: AdminRoute.Source) {
        self.source = source
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            let path = RequestTarget(head.uri).path
            if let inspector = self.source.inspector, Inspector.contains(path, base: inspector.base) {
                return self.serve(inspector.answer(head), for: head, context: context)
            }
            switch AdminRoute.answer(path: path, method: head.method, from: self.source) {
            case .now(let response):
                self.write(response, for: head, context: context)
            case .later(let produce):
                // NIO's pipeline holds the next pipelined request until this one's end is written.
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                Task {
                    let response = await produce()
                    eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.write(response, for: head, context: context)
                    }
                }
            }
        }
    }

    /// An inspector answer; for the event stream, its head, then ``InspectorStream`` writes the body for as
    /// long as the connection lives (NIO's encoder frames it as chunks).
    private func serve(_ answer: Inspector.Answer, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        switch answer {
        case .response(let response):
            self.write(response, for: request, context: context)
        case .stream:
            let head = HTTPResponseHead(
                version: request.version,
                status: .ok,
                headers: HTTPHeaders(Inspector.streamHeaders)
            )
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            guard request.method != .HEAD, let ring = self.source.inspector?.ring else {
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let stream = InspectorStream(ring: ring) { NIOAny(HTTPServerResponsePart.body(.byteBuffer($0))) }
            try? context.pipeline.syncOperations.addHandler(stream, position: .after(self))
        }
    }

    private func write(_ response: ProxyResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        headers.add(name: "Content-Length", value: String(response.body.readableBytes))
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}

internal import NIOCore
internal import NIOHTTP1

/// The inspector on the main port (``Inspector/mainPortBase``), when there is no admin listener and the proxy
/// listens on loopback only.
extension ProxyHandler {
    /// Answers an inspector request, without CORS headers: the inspector is same-origin only. The event stream
    /// takes the connection over: its head goes out with `Connection: close`, the exchange is recorded, and an
    /// ``InspectorStream`` replaces this handler for as long as the connection lives.
    func serveInspector(context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        let noCORS = CORSOutcome.withoutRequest(headers: exchange.snapshot.corsHeaders)
        guard let ring = self.observers.inspector else {
            let error = ProxyError.noRoute(path: RequestTarget(exchange.head.uri).path)
            return self.answer(error.response, as: .local, closesConnection: false, cors: noCORS, context: context)
        }
        let inspector = Inspector(ring: ring, base: Inspector.mainPortBase, listen: exchange.snapshot.config.listen)
        switch inspector.answer(exchange.head) {
        case .response(let response):
            self.answer(response, as: .local, closesConnection: false, cors: noCORS, context: context)
        case .stream where exchange.head.method == .HEAD:
            let response = ProxyResponse(status: .ok, headers: Inspector.streamHeaders, body: ByteBuffer())
            self.answer(response, as: .local, closesConnection: false, cors: noCORS, context: context)
        case .stream:
            var out = context.channel.allocator.buffer(capacity: 512)
            ResponseEncoder.writeStatusLine(version: exchange.head.version, status: .ok, into: &out)
            self.date.value.writeLine(into: &out)
            for (name, value) in Inspector.streamHeaders { out.writeHeader(name, value) }
            // The body ends when the connection does.
            out.writeHeader("Connection", "close")
            out.writeStaticString("\r\n")
            context.write(self.wrapOutboundOut(.serializedHead(out, isChunked: false)), promise: nil)
            exchange.status = 200
            exchange.answer = .local
            exchange.corsLinesSent = []
            self.finish(note: "inspector event stream", context: context)
            let stream = InspectorStream(ring: ring) { NIOAny(ResponsePart.body($0)) }
            let pipeline = context.pipeline.syncOperations
            try? pipeline.addHandler(stream, position: .after(self))
            pipeline.removeHandler(context: context, promise: nil)
        }
    }
}

internal import CurlBridge
internal import NIOCore
internal import NIOHTTP1

/// The upstream half of ``ProxyHandler``: starting a transfer, and turning its events into the response.
extension ProxyHandler {
    func startTransfer(_ request: TransferRequest, route: ProxyConfig.Route, context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        // The proxy streams the body upstream as it comes, so it can invite it at once (RFC 9110 §10.1.1);
        // libcurl is told not to expect a 100 from the upstream.
        if exchange.head.version.isHTTP11OrLater,
            exchange.head.headers["expect"].contains(where: { ASCII.equalsIgnoringCase($0, "100-continue") })
        {
            let interim = HTTPResponseHead(version: exchange.head.version, status: .continue)
            context.writeAndFlush(self.wrapOutboundOut(.head(interim)), promise: nil)
        }
        let id = exchange.id
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let now = context.eventLoop.now
        exchange.route = route
        exchange.transferStarted = now
        exchange.transfer = self.curl.start(request) { events in
            bound.eventLoop.execute { bound.value.receive(events, exchangeID: id) }
        }
        self.machine.upstreamStarted(now: now)
        self.armTimer(context: context)
    }

    private func receive(_ events: [TransferEvent], exchangeID: Int) {
        guard let context = self.channelContext, let exchange = self.exchange, exchange.id == exchangeID else { return }
        for event in events {
            switch event {
            case .head(let upstreamHead):
                self.writeUpstreamHead(upstreamHead, context: context)
            case .body(let buffer):
                guard let transfer = exchange.transfer else { return }
                let count = buffer.readableBytes
                exchange.bytesOut += count
                let promise = context.eventLoop.makePromise(of: Void.self)
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                promise.futureResult.whenComplete { _ in
                    transfer.didConsume(count)
                    bound.value.machine.bodyWritten(now: bound.eventLoop.now)
                }
                context.write(self.wrapOutboundOut(.body(buffer)), promise: promise)
            case .end(let completion):
                exchange.upstreamConnectionsOpened = completion.newConnections
                exchange.transfer = nil
                return self.endResponse(context: context)
            case .failed(let error):
                return self.upstreamFailed(error, context: context)
            case .uploadDrained:
                if self.machine.releaseReads() { context.read() }
            }
        }
        context.flush()
    }

    /// Assembles the response head from the upstream's as bytes: its status, the header lines that cross (copied,
    /// or rewritten), the exchange's CORS headers and `Vary`, `Connection`, and the framing the body needs.
    private func writeUpstreamHead(_ upstream: TransferResponseHead, context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        let base = exchange.proxyBase
        let router = exchange.snapshot.router
        let status = HTTPResponseStatus(statusCode: upstream.status, reasonPhrase: upstream.reason)
        exchange.upstreamStatus = upstream.status
        exchange.upstreamHeadArrived = context.eventLoop.now
        var out = context.channel.allocator.buffer(capacity: upstream.lines.readableBytes + 512)
        ResponseEncoder.writeStatusLine(version: exchange.head.version, status: status, into: &out)
        let found = HeaderFilter.writeResponseHeaders(
            upstream,
            into: &out,
            forwardCookies: exchange.route?.forwardCookies ?? false,
            // No length for 1xx, 204 and 304, whatever the headers say (RFC 9110 §6.4.1).
            dropsContentLength: !status.mayHaveResponseBody
        ) { kind, value, out in
            if kind == .link {
                router.writeRewrittenLink(value, proxyBase: base, into: &out)
            } else {
                router.writeRewritten(value, proxyBase: base, into: &out)
            }
        }
        // The upstream counted this request whatever follows, so its word on the budget is taken first.
        if let key = exchange.budgetKey, let remaining = found.rateLimitRemaining.flatMap({ Int(exactly: $0) }),
            remaining >= 0
        {
            self.budget.observe(key, remaining: remaining, reset: found.rateLimitReset)
        }
        guard found.contentLengths.count <= 1, found.contentLengths.allSatisfy({ ASCII.isDecimal($0.utf8) }) else {
            exchange.transfer?.cancel()
            exchange.transfer = nil
            let error = ProxyError.untrustedLength(
                upstream: exchange.route?.upstream.description ?? "the upstream",
                lengths: found.contentLengths
            )
            return self.answer(error.response, as: .local, closesConnection: true, context: context)
        }
        exchange.rateLimitRemaining = found.rateLimitRemaining
        exchange.corsLinesSent = exchange.cors.write(.relayed, upstreamVary: found.vary, into: &out)
        exchange.answer = .relayed
        // A body of unknown length: chunked for HTTP/1.1; for HTTP/1.0, the end of the connection marks its end.
        let isLengthUnknown = exchange.responseHasBody(status) && found.contentLengths.isEmpty
        let isChunked = isLengthUnknown && exchange.head.version.isHTTP11OrLater
        let keepsAlive = self.machine.upstreamHeadWritten(
            closesConnection: isLengthUnknown && !isChunked,
            now: context.eventLoop.now
        )
        if let connection = Exchange.connectionHeader(version: exchange.head.version, keepsAlive: keepsAlive) {
            out.writeHeader("Connection", connection)
        }
        if isChunked { out.writeHeader("Transfer-Encoding", "chunked") }
        out.writeStaticString("\r\n")
        exchange.status = upstream.status
        // The buffer itself (a reference): it is not written to again.
        if self.observers.inspector != nil { exchange.responseHead = out }
        context.write(self.wrapOutboundOut(.serializedHead(out, isChunked: isChunked)), promise: nil)
    }

    /// A failed transfer: the proxy's own answer (``ProxyError/upstream(_:upstream:)``) when nothing was sent
    /// yet; otherwise the connection is closed so the client sees an incomplete body, never a silently truncated
    /// one.
    private func upstreamFailed(_ error: CurlError, context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        exchange.transfer = nil
        exchange.curlCode = error.code
        switch self.machine.upstreamFailed() {
        case .answer:
            let failure = ProxyError.upstream(error, upstream: exchange.route?.upstream.description ?? "?")
            self.answer(failure.response, as: .local, closesConnection: false, context: context)
        case .abort:
            self.abort(note: "upstream failed mid-response: \(error.message)", context: context)
        }
    }
}

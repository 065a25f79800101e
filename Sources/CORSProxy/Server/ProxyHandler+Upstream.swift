internal import CurlBridge
internal import NIOCore
internal import NIOHTTP1

/// The upstream half of ``ProxyHandler``: starting a transfer, and turning its events into the response.
extension ProxyHandler {
    func startTransfer(_ request: TransferRequest, route: ProxyConfig.Route, context: ChannelHandlerContext) {
        // The proxy streams the body upstream as it comes, so it can invite it at once (RFC 9110 §10.1.1);
        // libcurl is told not to expect a 100 from the upstream.
        if let exchange = self.exchange, exchange.head.version.isHTTP11OrLater,
            exchange.head.headers["expect"].contains(where: { ASCII.equalsIgnoringCase($0, "100-continue") })
        {
            let interim = HTTPResponseHead(version: exchange.head.version, status: .continue)
            context.writeAndFlush(self.wrapOutboundOut(.head(interim)), promise: nil)
        }
        let id = self.exchange?.id ?? 0
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.exchange?.route = route
        self.exchange?.upstream = route.upstream.description
        self.exchange?.transfer = self.curl.start(request) { events in
            bound.eventLoop.execute { bound.value.receive(events, exchangeID: id) }
        }
        self.lastWriteProgress = .now()
        self.armTimer(context: context)
    }

    private func receive(_ events: [TransferEvent], exchangeID: Int) {
        guard let context = self.channelContext, self.exchange?.id == exchangeID else { return }
        for event in events {
            switch event {
            case .head(let upstreamHead):
                self.writeUpstreamHead(upstreamHead, context: context)
            case .body(let buffer):
                guard let transfer = self.exchange?.transfer else { return }
                let count = buffer.readableBytes
                self.exchange?.bytesSent += count
                let promise = context.eventLoop.makePromise(of: Void.self)
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                promise.futureResult.whenComplete { _ in
                    transfer.didConsume(count)
                    bound.value.lastWriteProgress = .now()
                }
                context.write(self.wrapOutboundOut(.body(buffer)), promise: promise)
            case .end:
                self.exchange?.transfer = nil
                return self.endResponse(context: context)
            case .failed(let error):
                self.upstreamFailed(error, context: context)
            case .uploadDrained:
                self.releaseReads(context: context)
            }
        }
        context.flush()
    }

    /// Assembles the response head from the upstream's as bytes: its status, the header lines that cross (copied,
    /// or rewritten), the policy's CORS headers, the merged `Vary`, `Connection`, and the framing the body needs.
    private func writeUpstreamHead(_ upstream: TransferResponseHead, context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        let base = exchange.proxyBase
        let router = self.shared.router
        let status = HTTPResponseStatus(statusCode: upstream.status, reasonPhrase: upstream.reason)
        var out = context.channel.allocator.buffer(capacity: upstream.lines.readableBytes + 512)
        ResponseEncoder.writeStatusLine(version: exchange.head.version, status: status, into: &out)
        let found = HeaderFilter.writeResponseHeaders(
            upstream,
            into: &out,
            forwardCookies: exchange.route?.forwardCookies ?? false,
            // No length for 1xx, 204 and 304, whatever the headers say (RFC 9110 §6.4.1).
            dropsContentLength: !status.mayHaveResponseBody
        ) { kind, value in
            kind == .link ? router.rewriteLink(value, proxyBase: base) : router.rewrite(Substring(value), proxyBase: base)
        }
        guard found.contentLengths.count <= 1, found.contentLengths.allSatisfy({ ASCII.isDecimal($0.utf8) }) else {
            // RFC 9112 §6.3: differing or malformed lengths make the framing unknowable; never pass them on.
            exchange.transfer?.cancel()
            exchange.transfer = nil
            exchange.mustClose = true
            let lengths = found.contentLengths.sorted().joined(separator: ", ")
            return self.respond(
                .json(
                    .badGateway,
                    error: "upstream_error",
                    message: "\(exchange.upstream ?? "the upstream") sent a Content-Length the proxy cannot trust",
                    details: ["upstream": exchange.upstream ?? "?", "cause": "conflicting or malformed Content-Length: \(lengths)"]
                ),
                context: context
            )
        }
        if case .allowed(let origin, _) = exchange.verdict {
            for (name, value) in self.shared.policy.responseHeaders(origin: origin) {
                out.writeHeader(name, value)
            }
        } else if case .refused = exchange.verdict {
            exchange.chromeReason = RequestPlan.missingAllowOrigin
        }
        out.writeHeader("Vary", HeaderFilter.mergeVary(found.vary, adding: ["Origin"]))
        // A body of unknown length: chunked for HTTP/1.1; for HTTP/1.0, the end of the connection marks its end.
        let isLengthUnknown = exchange.responseHasBody(status) && found.contentLengths.isEmpty
        let isChunked = isLengthUnknown && exchange.head.version.isHTTP11OrLater
        if isLengthUnknown && !isChunked { exchange.mustClose = true }
        if let connection = exchange.connectionHeader { out.writeHeader("Connection", connection) }
        if isChunked { out.writeHeader("Transfer-Encoding", "chunked") }
        out.writeStaticString("\r\n")
        exchange.status = upstream.status
        exchange.isResponseStarted = true
        context.write(self.wrapOutboundOut(.serializedHead(out, isChunked: isChunked)), promise: nil)
    }

    /// Maps a failed transfer to the client: the proxy's own 502/504 when nothing was sent yet; otherwise the
    /// connection is closed so the client sees an incomplete body, never a silently truncated one.
    private func upstreamFailed(_ error: CurlError, context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        exchange.transfer = nil
        exchange.curlCode = error.code
        if exchange.isResponseStarted {
            exchange.log(status: exchange.status ?? 0, note: "upstream failed mid-response: \(error.message)")
            self.exchange = nil
            // What arrived before the failure goes out first; the close then marks the body incomplete.
            context.flush()
            context.close(promise: nil)
            return
        }
        self.respond(Self.upstreamFailure(error, upstream: exchange.upstream ?? "?"), context: context)
    }

    /// The one place where upstream failures become HTTP statuses.
    static func upstreamFailure(_ error: CurlError, upstream: String) -> ProxyResponse {
        let details: [String: Any] = ["upstream": upstream, "cause": error.message, "curlCode": error.code]
        if error.isTimeout {
            return .json(.gatewayTimeout, error: "upstream_timeout", message: "\(upstream) did not answer in time: \(error.message)", details: details)
        }
        if error.isMalformedURL {
            return .json(.badRequest, error: "bad_request_target", message: "the request target cannot be forwarded: \(error.message)", details: details)
        }
        let kind = error.isUnreachable ? "upstream_unreachable" : "upstream_error"
        return .json(.badGateway, error: kind, message: "\(upstream) could not be reached: \(error.message)", details: details)
    }
}

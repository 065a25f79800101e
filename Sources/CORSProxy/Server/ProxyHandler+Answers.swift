internal import CurlBridge
internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// The ends of an exchange in ``ProxyHandler``: the proxy's own answers, the end of a response, the record, and
/// the one abort sequence.
extension ProxyHandler {
    /// Writes an answer of the proxy's own as the exchange's response and ends it.
    /// - Parameter cors: Writes the CORS headers instead of the exchange's outcome (none, for the inspector).
    func answer(
        _ response: ProxyResponse,
        as answer: CORSOutcome.Answer,
        closesConnection: Bool,
        cors: CORSOutcome? = nil,
        context: ChannelHandlerContext
    ) {
        guard let exchange = self.exchange else { return }
        let keepsAlive = self.machine.answerLocally(closesConnection: closesConnection)
        exchange.corsLinesSent = self.write(
            response,
            as: answer,
            cors: cors ?? exchange.cors,
            head: exchange.head,
            keepsAlive: keepsAlive,
            recordingHeadIn: exchange,
            context: context
        )
        exchange.status = Int(response.status.code)
        exchange.error = response.error
        exchange.answer = answer
        self.endResponse(context: context)
    }

    /// Serializes an answer of the proxy's own: status line, `Date`, its headers, the CORS headers and `Vary`,
    /// `Content-Length` and `Connection`; then its body, unless the request was `HEAD`.
    /// - Parameter exchange: Keeps the head written in this exchange, while an inspector is attached.
    /// - Returns: The `Access-Control-*` lines written.
    @discardableResult
    private func write(
        _ response: ProxyResponse,
        as answer: CORSOutcome.Answer,
        cors: CORSOutcome,
        head: HTTPRequestHead?,
        keepsAlive: Bool,
        recordingHeadIn exchange: Exchange? = nil,
        context: ChannelHandlerContext
    ) -> CORSOutcome.SentLines {
        let version = head?.version ?? .http1_1
        var out = context.channel.allocator.buffer(capacity: 512 + response.body.readableBytes)
        ResponseEncoder.writeStatusLine(version: version, status: response.status, into: &out)
        self.date.value.writeLine(into: &out)
        for (name, value) in response.headers { out.writeHeader(name, value) }
        let lines = cors.write(answer, into: &out)
        // No length for 1xx, 204 and 304; no body for them nor for HEAD (RFC 9110 §6.4.1, §8.6).
        if response.status.mayHaveResponseBody {
            out.writeHeader("Content-Length", String(response.body.readableBytes))
        }
        if let connection = Exchange.connectionHeader(version: version, keepsAlive: keepsAlive) {
            out.writeHeader("Connection", connection)
        }
        out.writeStaticString("\r\n")
        let headLength = out.readableBytes
        if response.status.mayHaveResponseBody && head?.method != .HEAD {
            out.writeImmutableBuffer(response.body)
        }
        if let exchange, self.observers.inspector != nil {
            // A slice of the bytes written: no copy.
            exchange.responseHead = out.getSlice(at: out.readerIndex, length: headLength)
        }
        context.write(self.wrapOutboundOut(.serializedHead(out, isChunked: false)), promise: nil)
        return lines
    }

    /// Completes the response: writes its end, then closes the connection, goes on with what is queued, or reads
    /// and drops the rest of the request body, as the state machine says.
    func endResponse(context: ChannelHandlerContext) {
        switch self.machine.responseEnded(now: context.eventLoop.now) {
        case .close:
            self.finish(note: nil, context: context)
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end)).whenComplete { _ in channel.close(promise: nil) }
        case .nextRequest:
            context.writeAndFlush(self.wrapOutboundOut(.end), promise: nil)
            self.finish(note: nil, context: context)
            self.startQueued(context: context)
        case .drainRequest:
            context.writeAndFlush(self.wrapOutboundOut(.end), promise: nil)
            if self.machine.releaseReads() { context.read() }
        }
    }

    /// Emits the exchange's record and lets it go.
    func finish(note: String?, context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        self.exchange = nil
        let record = exchange.record(now: context.eventLoop.now, note: note)
        self.observers.record(record)
    }

    /// Gives the exchange up: cancels its transfer, records why, and closes the connection. What was written
    /// before goes out first; the close then tells the client the response is incomplete.
    func abort(note: String, context: ChannelHandlerContext) {
        _ = self.machine.connectionClosed()
        self.exchange?.transfer?.cancel()
        self.exchange?.transfer = nil
        self.finish(note: note, context: context)
        context.flush()
        context.close(promise: nil)
    }

    /// NIO's decoder cannot parse what the client sent: 431 for a head over `limits.maxHeaderBytes`, 400 for
    /// anything else, when that answer would be read as the failing request's; then the connection closes.
    /// Nothing of such a request is forwarded.
    func requestUnparsable(_ cause: HTTPParserError, context: ChannelHandlerContext) {
        let error: ProxyError = cause == .headerOverflow ? .headersTooLarge : .malformedRequest(cause)
        switch self.machine.parserError() {
        case .answer(let endsExchange):
            if endsExchange, let exchange = self.exchange {
                exchange.transfer?.cancel()
                exchange.transfer = nil
                exchange.corsLinesSent = self.write(
                    error.response,
                    as: .local,
                    cors: exchange.cors,
                    head: exchange.head,
                    keepsAlive: false,
                    recordingHeadIn: exchange,
                    context: context
                )
                exchange.status = Int(error.status.code)
                exchange.error = error
                exchange.answer = .local
                self.finish(note: "\(cause)", context: context)
            } else {
                let cors = CORSOutcome.withoutRequest(headers: self.store.current.corsHeaders)
                self.write(error.response, as: .local, cors: cors, head: nil, keepsAlive: false, context: context)
                self.logger.debug("malformed request", metadata: ["error": "\(cause)"])
            }
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end)).whenComplete { _ in channel.close(promise: nil) }
        case .close(let abortsExchange):
            if abortsExchange {
                self.abort(note: "malformed request behind this one: \(cause)", context: context)
            } else {
                context.close(promise: nil)
            }
        }
    }
}

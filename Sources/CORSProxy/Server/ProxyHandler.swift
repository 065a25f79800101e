internal import CurlBridge
internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// Joins one client connection to upstream transfers, one request at a time: a pipelined request that arrives
/// while a response is still going out waits in a queue (and holds further reads) until that response ends.
/// Doing this here rather than with NIO's `HTTPServerPipelineHandler` keeps the socket's read interest
/// registered between keep-alive requests instead of toggling it (two `epoll_ctl` calls per request).
///
/// A request is judged first (health, request target, `Host`, origin, preflight, route); what the proxy answers
/// itself is written at once. Anything else becomes a ``Transfer`` on the shared ``CurlLoop``. Transfer events
/// arrive on this channel's event loop, tagged with the exchange they belong to, so late events of a cancelled
/// transfer never touch the next request on a kept-alive connection.
///
/// Back-pressure: response bytes count as consumed only when their write completes, which lets the transfer pause
/// libcurl while the client is slow; request bodies above the transfer's high watermark hold `read()` here until
/// libcurl has drained them.
final class ProxyHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    let shared: ProxyContext
    let curl: CurlLoop
    private let logger: Logger
    var exchange: Exchange?
    private var nextExchangeID = 0
    /// The transfer's upload backlog is above its high watermark: reading more body waits for it to drain.
    private var isUploadHeld = false
    /// Parts of pipelined requests that arrived while an exchange was in progress, in order.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var hasPendingRead = false
    /// Graceful shutdown asked this connection to close once the response in progress is complete.
    private var isQuiescing = false
    var channelContext: ChannelHandlerContext?
    /// When the next request head must have arrived (`timeouts.clientHeader`); `nil` while a request is in hand.
    private var headDeadline: NIODeadline?
    /// When a response write last completed, or the transfer started: a paused transfer whose client made no
    /// progress for `timeouts.idle` is given up.
    var lastWriteProgress = NIODeadline.now()
    /// One timer per connection for both deadlines. It is re-armed when it fires or when a deadline moves
    /// earlier than it, not for every request.
    private var timer: (task: Scheduled<Void>, deadline: NIODeadline)?
    /// The last `Origin` on this connection and its verdict: a connection almost always carries one origin.
    private var lastVerdict: (header: String, verdict: CORSPolicy.OriginVerdict)?
    /// The client's IP address, for `X-Forwarded-For`; formatted once per connection.
    private lazy var clientAddress: String? = self.channelContext?.channel.remoteAddress?.ipAddress

    /// - Parameters:
    ///   - context: The config and what is precomputed from it.
    ///   - curl: The loop upstream transfers run on.
    ///   - logger: Receives one line per request.
    init(context: ProxyContext, curl: CurlLoop, logger: Logger) {
        self.shared = context
        self.curl = curl
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.channelContext = context
        self.awaitHead(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.task.cancel()
        self.timer = nil
        self.channelContext = nil
    }

    // MARK: Deadlines

    /// Gives the client `timeouts.clientHeader` to send its next complete request head (slow-loris defence;
    /// also ends idle keep-alive connections).
    private func awaitHead(context: ChannelHandlerContext) {
        self.headDeadline = .now() + .milliseconds(Int64(self.shared.config.timeouts.clientHeader * 1000))
        self.armTimer(context: context)
    }

    private var idleTimeout: TimeAmount? {
        let idle = self.shared.config.timeouts.idle
        return idle > 0 ? .milliseconds(Int64(idle * 1000)) : nil
    }

    /// The head deadline while waiting for a request; the client-stall deadline while a transfer streams.
    private var nextDeadline: NIODeadline? {
        if let head = self.headDeadline { return head }
        if self.exchange?.transfer != nil, let idle = self.idleTimeout { return self.lastWriteProgress + idle }
        return nil
    }

    func armTimer(context: ChannelHandlerContext) {
        guard let deadline = self.nextDeadline else { return }
        if let timer = self.timer {
            guard deadline < timer.deadline else { return }
            timer.task.cancel()
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: deadline) { bound.value.timerFired() }
        self.timer = (task, deadline)
    }

    private func timerFired() {
        self.timer = nil
        guard let context = self.channelContext else { return }
        let now = NIODeadline.now()
        if let head = self.headDeadline, head <= now {
            context.close(promise: nil)
            return
        }
        if self.headDeadline == nil, let exchange = self.exchange, let transfer = exchange.transfer,
            let idle = self.idleTimeout, self.lastWriteProgress + idle <= now
        {
            guard transfer.isWaitingForConsumer else {
                // The client keeps up; the upstream is the slow side, and libcurl's own stall timeout covers it.
                self.lastWriteProgress = now
                return self.armTimer(context: context)
            }
            exchange.log(status: exchange.status ?? 0, note: "client stopped reading; closed after timeouts.idle")
            transfer.cancel()
            self.exchange = nil
            context.close(promise: nil)
            return
        }
        self.armTimer(context: context)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if !self.queued.isEmpty || (self.exchange != nil && part.isHead) {
            self.queued.append(part)
            return
        }
        self.handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            self.headDeadline = nil
            self.nextExchangeID += 1
            self.exchange = Exchange(id: self.nextExchangeID, head: head, logger: self.logger)
            self.route(head, context: context)
        case .body(let buffer):
            guard let transfer = self.exchange?.transfer else { return }
            self.exchange?.bodyBytesReceived += Int64(buffer.readableBytes)
            let limit = self.shared.config.limits.maxBodyBytes
            if limit > 0, let received = self.exchange?.bodyBytesReceived, received > limit {
                return self.refuseOversizedBody(context: context)
            }
            if transfer.appendBody(buffer) { self.isUploadHeld = true }
        case .end:
            guard let exchange = self.exchange else { return }
            exchange.isRequestComplete = true
            exchange.transfer?.finishBody()
            self.finishIfDone(context: context)
            // The response went out before the request ended: close now if shutting down, otherwise a
            // pipelined request may be waiting.
            guard self.exchange == nil else { return }
            if self.isQuiescing {
                context.close(promise: nil)
            } else {
                self.startQueued(context: context)
            }
        }
    }

    /// Starts the requests that were pipelined behind the one just finished, until one is in progress.
    private func startQueued(context: ChannelHandlerContext) {
        while let part = self.queued.first, !(self.exchange != nil && part.isHead) {
            self.queued.removeFirst()
            self.handle(part, context: context)
        }
        self.releaseReads(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        // Graceful shutdown: an idle connection closes now, a busy one after its response.
        self.isQuiescing = true
        guard let exchange = self.exchange else { return context.close(promise: nil) }
        if !exchange.isResponseStarted { exchange.mustClose = true }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange = self.exchange {
            exchange.transfer?.cancel()
            exchange.transfer = nil
            exchange.log(status: exchange.status ?? 499, note: "client closed the connection")
            self.exchange = nil
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("connection error", metadata: ["error": "\(error)"])
        self.exchange?.transfer?.cancel()
        context.close(promise: nil)
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if self.isUploadHeld || !self.queued.isEmpty {
            self.hasPendingRead = true
        } else {
            context.read()
        }
    }

    func releaseReads(context: ChannelHandlerContext) {
        self.isUploadHeld = false
        if self.hasPendingRead, self.queued.isEmpty {
            self.hasPendingRead = false
            context.read()
        }
    }

    // MARK: Request head

    /// Makes the request's plan and carries it out.
    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let plan = RequestPlan(head: head, verdict: self.judge(head), context: self.shared, clientAddress: self.clientAddress)
        guard let exchange = self.exchange else { return }
        exchange.verdict = plan.verdict
        exchange.proxyBase = plan.proxyBase
        exchange.isPreflight = plan.isPreflight
        exchange.refusal = plan.refusal
        exchange.chromeReason = plan.chromeReason
        if plan.isAnsweredBeforeBody {
            exchange.mustClose = true
            exchange.isRequestComplete = true
        }
        switch plan.action {
        case .respond(let response, let addsCORS):
            self.write(response, addCORS: addsCORS, context: context)
        case .forward(let route, let request):
            self.startTransfer(request, route: route, context: context)
        }
    }

    /// The policy's verdict on the request's `Origin`, remembered for the next request of the connection.
    private func judge(_ head: HTTPRequestHead) -> CORSPolicy.OriginVerdict {
        guard let origin = head.headers.first(name: "origin") else { return .absent }
        if let last = self.lastVerdict, last.header == origin { return last.verdict }
        let verdict = self.shared.policy.judge(origin: origin)
        self.lastVerdict = (origin, verdict)
        return verdict
    }

    // MARK: Local responses

    /// Writes a response the proxy produced itself, with the CORS headers the request earned.
    func respond(_ response: ProxyResponse, context: ChannelHandlerContext) {
        var response = response
        response.headers.replaceOrAdd(name: "Vary", value: "Origin")
        self.write(response, addCORS: true, context: context)
    }

    private func write(_ response: ProxyResponse, addCORS: Bool, context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        var headers = response.headers
        if addCORS, case .allowed(let origin, _) = exchange.verdict {
            for (name, value) in self.shared.policy.responseHeaders(origin: origin) { headers.add(name: name, value: value) }
        }
        // No length for 1xx, 204 and 304; no body for them nor for HEAD (RFC 9110 §6.4.1, §8.6).
        if response.status.mayHaveResponseBody {
            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        }
        if let connection = exchange.connectionHeader { headers.replaceOrAdd(name: "Connection", value: connection) }
        let head = HTTPResponseHead(version: exchange.head.version, status: response.status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if exchange.responseHasBody(response.status), response.body.readableBytes > 0 {
            context.write(self.wrapOutboundOut(.body(response.body)), promise: nil)
        }
        exchange.status = Int(response.status.code)
        exchange.errorKind = response.errorKind
        self.endResponse(context: context)
    }

    /// Completes the response: settles this exchange, writes the end, then either closes the connection (not
    /// kept alive, or shutting down) or starts a request that was pipelined behind this one.
    func endResponse(context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        exchange.isResponseComplete = true
        self.finishIfDone(context: context)
        guard exchange.head.isKeepAlive && !exchange.mustClose && !self.isQuiescing else {
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.writeAndFlush(self.wrapOutboundOut(.end), promise: nil)
        if self.exchange == nil {
            self.startQueued(context: context)
        } else {
            // The rest of the request body is read and dropped.
            self.releaseReads(context: context)
        }
    }

    private func finishIfDone(context: ChannelHandlerContext) {
        guard let exchange = self.exchange, exchange.isRequestComplete, exchange.isResponseComplete else { return }
        exchange.log(status: exchange.status ?? 0)
        self.exchange = nil
        self.awaitHead(context: context)
    }

    /// A body larger than `limits.maxBodyBytes`: 413 if nothing was answered yet, and the connection closes
    /// either way (the rest of the body is not read).
    private func refuseOversizedBody(context: ChannelHandlerContext) {
        guard let exchange = self.exchange else { return }
        exchange.transfer?.cancel()
        exchange.transfer = nil
        exchange.mustClose = true
        if exchange.isResponseStarted {
            exchange.log(status: exchange.status ?? 0, note: "request body over limits.maxBodyBytes")
            self.exchange = nil
            context.close(promise: nil)
            return
        }
        self.exchange?.isRequestComplete = true
        self.respond(RequestPlan.bodyTooLarge(self.shared.config.limits.maxBodyBytes), context: context)
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}

extension HTTPServerRequestPart {
    fileprivate var isHead: Bool {
        if case .head = self { return true }
        return false
    }
}

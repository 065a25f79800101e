internal import CurlBridge
internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// Joins one client connection to upstream transfers, one exchange at a time. It decides nothing itself: the
/// connection's ``ConnectionStateMachine`` says what each event means, a ``RequestPlan`` says how to answer a
/// request head, the exchange's ``CORSOutcome`` writes its CORS headers, and ``ProxyError`` chooses the status of
/// every failure; this handler carries that out and emits one ``ExchangeRecord`` per exchange to the sinks.
///
/// Pipelining is the state machine's: a request that arrives while a response is still going out waits (and holds
/// further reads) until that response ends. Doing this here rather than with NIO's `HTTPServerPipelineHandler`
/// keeps the socket's read interest registered between keep-alive requests instead of toggling it (two
/// `epoll_ctl` calls per request). Requests NIO's decoder cannot parse are answered here too (400, or 431 for an
/// oversized head), when the answer would be read as the failing request's.
///
/// Transfer events arrive on this channel's event loop, tagged with the exchange they belong to, so late events of
/// a cancelled transfer never touch the next exchange of a kept-alive connection. Back-pressure: response bytes
/// count as consumed only when their write completes, which lets the transfer pause libcurl while the client is
/// slow; request bodies above the transfer's high watermark hold `read()` until libcurl has drained them.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    let store: ConfigStore
    /// The instance's `limits.rateLimit` buckets.
    let limiter: RateLimiter
    let curl: CurlLoop
    let observers: ExchangeObservers
    /// The server's upstream budgets, shared by every connection and kept across reloads.
    let budget: UpstreamBudget
    /// The `Date` of the proxy's own answers, shared by the event loop's connections.
    let date: NIOLoopBoundBox<HTTPDate>
    let logger: Logger
    var machine: ConnectionStateMachine
    /// The data of the exchange in progress.
    var exchange: Exchange?
    private var nextExchangeID = 0
    var channelContext: ChannelHandlerContext?
    /// One timer per connection for every deadline. It is re-armed when it fires or when the next deadline is
    /// earlier than it, not for every request.
    private var timer: (task: Scheduled<Void>, deadline: NIODeadline)?
    /// The last `Origin` on this connection, the snapshot that judged it, its verdict and the origin parsed: a
    /// connection almost always carries one origin. The snapshot is held, not just its `ObjectIdentifier`: once a
    /// reload has replaced it and its last exchange ended it could be freed, and the next reload's snapshot
    /// allocated at the same address would then reuse a verdict of the old policy.
    private var lastVerdict: JudgedOrigin?
    /// The socket peer's address, parsed once per connection.
    private lazy var peer: IPAddress? = self.channelContext?.channel.remoteAddress?.ipAddress.flatMap {
        IPAddress($0)
    }
    /// The chain of a request whose forwarding headers are not believed: just the peer, formatted once.
    private lazy var peerChain: ForwardedChain? = self.peer.map { ForwardedChain(peer: $0) }

    /// - Parameters:
    ///   - store: The config in force; each exchange pins the snapshot current when its head arrives.
    ///   - limiter: The instance's rate-limit buckets.
    ///   - curl: The loop upstream transfers run on.
    ///   - observers: Receive one record per exchange.
    ///   - budget: The server's upstream budgets.
    ///   - date: The event loop's `Date` cache.
    ///   - logger: For connection-level events.
    init(
        store: ConfigStore,
        limiter: RateLimiter,
        curl: CurlLoop,
        observers: ExchangeObservers,
        budget: UpstreamBudget,
        date: NIOLoopBoundBox<HTTPDate>,
        logger: Logger
    ) {
        self.store = store
        self.limiter = limiter
        self.curl = curl
        self.observers = observers
        self.budget = budget
        self.date = date
        self.logger = logger
        self.machine = ConnectionStateMachine(timeouts: store.current.connectionTimeouts, now: .now())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.channelContext = context
        self.machine = ConnectionStateMachine(
            timeouts: self.store.current.connectionTimeouts,
            now: context.eventLoop.now
        )
        self.armTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.task.cancel()
        self.timer = nil
        self.channelContext = nil
    }

    // MARK: Deadlines

    /// Schedules the timer for the state machine's next deadline, unless one is due earlier already.
    func armTimer(context: ChannelHandlerContext) {
        guard let deadline = self.machine.nextDeadline else { return }
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
        let transfer = self.exchange?.transfer
        switch self.machine.timerFired(
            now: context.eventLoop.now,
            isClientStalled: transfer?.isWaitingForConsumer ?? false
        ) {
        case .none:
            self.armTimer(context: context)
        case .closeIdle:
            context.close(promise: nil)
        case .abortStalledClient:
            self.abort(note: "client stopped reading; closed after timeouts.idle", context: context)
        case .delayEnded:
            guard let exchange = self.exchange, let plan = exchange.delayedPlan else { return }
            exchange.delayedPlan = nil
            self.carryOut(plan, context: context)
            self.startQueued(context: context)
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let action = self.machine.requestPartReceived(self.unwrapInboundIn(data), now: context.eventLoop.now)
        if self.perform(action, context: context) { self.startQueued(context: context) }
    }

    /// Carries out what the state machine made of a request part.
    /// - Returns: Whether an exchange ended and the connection goes on with what is queued.
    @discardableResult
    private func perform(_ action: ConnectionStateMachine.PartAction, context: ChannelHandlerContext) -> Bool {
        switch action {
        case .startExchange(let head):
            self.start(head, context: context)
        case .forwardBody(let buffer):
            self.forwardBody(buffer, context: context)
        case .finishUpload:
            self.exchange?.transfer?.finishBody()
        case .exchangeComplete(let closes):
            self.finish(note: nil, context: context)
            if closes { context.close(promise: nil) }
            return !closes
        case .none:
            break
        }
        return false
    }

    /// Handles the parts queued behind the exchange that just ended, until one is in progress again.
    func startQueued(context: ChannelHandlerContext) {
        while let action = self.machine.nextQueuedPart(now: context.eventLoop.now) {
            self.perform(action, context: context)
        }
        if self.machine.releaseReads() { context.read() }
        self.armTimer(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        // Graceful shutdown: an idle connection closes now, a busy one after its exchange.
        if self.machine.quiesce() { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.machine.connectionClosed() {
            self.abort(note: "client closed the connection", context: context)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            return self.requestUnparsable(parserError, context: context)
        }
        self.logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if self.machine.readRequested() { context.read() }
    }

    // MARK: Request head

    /// Pins the config snapshot, judges CORS, makes the request's plan and carries it out — now, or when a
    /// `latency` fault's delay is over.
    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let snapshot = self.store.current
        self.machine.snapshotPinned(snapshot.connectionTimeouts)
        let route = snapshot.router.route(for: RequestTarget(head.uri).path)
        let judged = self.judge(head, snapshot: snapshot)
        let cors = snapshot.outcome(for: head, verdict: judged.verdict, origin: judged.origin, route: route)
        self.nextExchangeID += 1
        let exchange = Exchange(
            id: self.nextExchangeID,
            head: head,
            snapshot: snapshot,
            cors: cors,
            started: context.eventLoop.now
        )
        exchange.routePrefix = route?.prefix
        let chain = self.chain(of: head, snapshot: snapshot)
        exchange.clientAddress = chain?.client
        self.exchange = exchange
        self.observers.exchangeStarted()
        let plan = RequestPlan(
            head: head,
            cors: cors,
            route: route,
            snapshot: snapshot,
            chain: chain,
            limiter: self.limiter,
            budget: self.budget
        )
        exchange.proxyBase = plan.proxyBase
        exchange.budgetKey = plan.budgetKey
        if let delay = plan.delay {
            exchange.delayedPlan = plan
            self.machine.delay(until: context.eventLoop.now + delay)
            return self.armTimer(context: context)
        }
        self.carryOut(plan, context: context)
    }

    private func carryOut(_ plan: RequestPlan, context: ChannelHandlerContext) {
        switch plan.action {
        case .respond(let response, let answer, let closesConnection):
            self.answer(response, as: answer, closesConnection: closesConnection, context: context)
        case .forward(let route, let request):
            self.startTransfer(request, route: route, context: context)
        case .serve(let endpoint):
            let body =
                switch endpoint {
                case .faults: self.observers.ledger.json
                case .report: self.observers.report.json(mode: self.exchange?.snapshot.config.cors.mode ?? .enforce)
                }
            let response = ProxyResponse(
                status: .ok,
                headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                body: body
            )
            self.answer(response, as: .local, closesConnection: false, context: context)
        case .inspect:
            self.serveInspector(context: context)
        }
    }

    /// Who sent the request: the peer, unless it is a trusted proxy and so what it forwards is believed.
    private func chain(of head: HTTPRequestHead, snapshot: ConfigSnapshot) -> ForwardedChain? {
        let trusted = snapshot.config.trustedProxies
        guard let peer = self.peer, !trusted.isEmpty else { return self.peerChain }
        return ForwardedChain(
            peer: peer,
            headers: head.headers,
            trusted: trusted,
            readsForwarded: snapshot.config.forwardedHeaders == .forwarded
        )
    }

    /// The policy's verdict on the request's `Origin` and the origin parsed, remembered for the next request of
    /// the connection: parsing costs more than the rest of a fault rule's check.
    private func judge(
        _ head: HTTPRequestHead,
        snapshot: ConfigSnapshot
    ) -> (verdict: CORSPolicy.OriginVerdict, origin: Origin?) {
        guard let header = head.headers.first(name: "origin") else { return (.absent, nil) }
        if let last = self.lastVerdict, last.header == header, last.snapshot === snapshot {
            return (last.verdict, last.origin)
        }
        let judged = JudgedOrigin(header: header, snapshot: snapshot)
        self.lastVerdict = judged
        return (judged.verdict, judged.origin)
    }

    /// Hands a part of the request body to the transfer, within `limits.maxBodyBytes`.
    private func forwardBody(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard let exchange = self.exchange, let transfer = exchange.transfer else { return }
        exchange.bytesIn += Int64(buffer.readableBytes)
        let limit = exchange.snapshot.config.limits.maxBodyBytes
        guard limit == 0 || exchange.bytesIn <= limit else {
            switch self.machine.requestBodyTooLarge() {
            case .answer:
                transfer.cancel()
                exchange.transfer = nil
                // The rest of the body is not read: the connection closes after the 413.
                let error = ProxyError.bodyTooLarge(limit: limit)
                return self.answer(error.response, as: .local, closesConnection: true, context: context)
            case .abort:
                return self.abort(note: "request body over limits.maxBodyBytes", context: context)
            }
        }
        if transfer.appendBody(buffer) { self.machine.uploadHeld() }
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}

/// An `Origin` header's verdict under one snapshot, and the origin parsed. A class: reading the connection's last
/// one to check it retains one reference, where a tuple of the same was copied field by field (about 1,200
/// instructions a request).
private final class JudgedOrigin {
    let header: String
    let snapshot: ConfigSnapshot
    let verdict: CORSPolicy.OriginVerdict
    let origin: Origin?

    init(header: String, snapshot: ConfigSnapshot) {
        self.header = header
        self.snapshot = snapshot
        self.verdict = snapshot.policy.judge(origin: header)
        self.origin = Origin(header)
    }
}

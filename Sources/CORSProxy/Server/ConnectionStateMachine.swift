internal import NIOCore
internal import NIOHTTP1

/// The life of one client connection, as pure state: which exchange is in progress and in which phase, the
/// request parts pipelined behind it, whether reads are held, quiescing, and the deadlines. No I/O: every event is
/// a `mutating` method that returns what to do, and ``ProxyHandler`` carries it out — the split of
/// async-http-client's `HTTP1ConnectionStateMachine` and its channel handler. Time comes in as `now` arguments, so
/// tests drive it with a clock of their own.
///
/// One exchange at a time: a request head that arrives while one is in progress waits in ``queue`` with
/// everything after it, and reads are held until it is done (HTTP/1.1 pipelining, RFC 9112 §9.3.2). An exchange
/// moves through these response phases:
///
/// ```
/// delayed (a latency fault)
///    ▲ │
///    │ ▼
/// headReceived ──► answeringLocally ──────────────────────────► complete
///      │                ▲                                         ▲
///      ▼                │ upstream failed before its head         │
/// awaitingUpstream ─────┘                                         │
///      │ upstream head                                            │
///      ▼                                                          │
///  streaming ────────────────────────────────────────────────────┘
/// ```
///
/// while its request is `receiving` or `complete`. The exchange is over when both are complete (then the
/// connection idles until the next head or `timeouts.clientHeader`), or at once when the response ends on a
/// connection that does not stay open. A failure after the response head went out, a stalled client, a parser
/// error and the client going away abort it: the connection closes.
struct ConnectionStateMachine {
    /// The deadlines a connection keeps, from its config snapshot.
    struct Timeouts: Sendable, Equatable {
        /// Time for the next complete request head (`timeouts.clientHeader`).
        var clientHeader: TimeAmount
        /// Longest a streaming response may go without the client reading (`timeouts.idle`); `nil`: no limit.
        var idle: TimeAmount?
    }

    enum RequestPhase: Equatable {
        /// Body parts may still arrive.
        case receiving
        /// The request's end arrived, or the rest of its body will not be read.
        case complete
    }

    enum ResponsePhase: Equatable {
        /// The head is in hand and the plan not yet carried out.
        case headReceived
        /// A `latency` fault holds the plan until `until`; request parts that arrive meanwhile wait in the queue.
        case delayed(until: NIODeadline)
        /// The proxy writes an answer of its own.
        case answeringLocally
        /// A transfer runs and its head has not arrived; `lastProgress`: when it started.
        case awaitingUpstream(lastProgress: NIODeadline)
        /// The upstream's head went out; `lastProgress`: when a body write last completed.
        case streaming(lastProgress: NIODeadline)
        /// The response's end was written.
        case complete
    }

    /// The exchange in progress.
    struct ExchangeState: Equatable {
        var request: RequestPhase
        var response: ResponsePhase
        /// The connection stays open after this response.
        var keepsAlive: Bool
    }

    private enum State: Equatable {
        /// Waiting for the next request head until `headDeadline`.
        case idle(headDeadline: NIODeadline)
        case exchange(ExchangeState)
        /// Closing or closed: events change nothing.
        case closed
    }

    // MARK: Actions

    /// What to do with a request part.
    enum PartAction: Equatable {
        /// A new exchange: plan it, then report ``answerLocally(closesConnection:)`` or ``upstreamStarted(now:)``.
        case startExchange(HTTPRequestHead)
        /// Hand this body part to the transfer.
        case forwardBody(ByteBuffer)
        /// The request body is complete: tell the transfer.
        case finishUpload
        /// The exchange is over (its response had ended); `closes`: close the connection, else go on with what
        /// is queued.
        case exchangeComplete(closes: Bool)
        /// Nothing: the part was queued or is dropped.
        case none
    }

    /// What to do once a response's end has been written.
    enum ResponseEndAction: Equatable {
        /// The exchange is over: close the connection when the end is written.
        case close
        /// The exchange is over: go on with what is queued.
        case nextRequest
        /// The rest of the request body is read and dropped; the exchange ends with the request.
        case drainRequest
    }

    /// What to do when the transfer fails, or the request body grows past its limit.
    enum FailureAction: Equatable {
        /// Nothing was sent yet: answer with the proxy's own error (``answerLocally(closesConnection:)``).
        case answer
        /// The response has started: abort the exchange and close, so the client sees a truncated body.
        case abort
    }

    /// What to do when a request cannot be parsed.
    enum ParserErrorAction: Equatable {
        /// Answer 400/431, then close; `endsExchange`: the answer is the exchange in progress's.
        case answer(endsExchange: Bool)
        /// Close without an answer, which would be read as an earlier request's; `abortsExchange`: one was in
        /// progress.
        case close(abortsExchange: Bool)
    }

    enum TimerAction: Equatable {
        case none
        /// No complete head came in time.
        case closeIdle
        /// The client read nothing of its response for `timeouts.idle`: abort the exchange and close.
        case abortStalledClient
        /// A `latency` fault's delay is over: carry the plan out, then the request parts that waited.
        case delayEnded
    }

    // MARK: State

    private var state: State
    private var timeouts: Timeouts
    /// Request parts that arrived while an exchange was in progress, in order.
    private var queue = CircularBuffer<HTTPServerRequestPart>()
    /// Graceful shutdown: close once the exchange in progress is over.
    private(set) var isQuiescing = false
    /// The transfer's upload backlog is above its high watermark.
    private var isUploadHeld = false
    /// A `read()` was held back.
    private var hasPendingRead = false

    /// - Parameters:
    ///   - timeouts: The deadlines of the config in force.
    ///   - now: When the connection was accepted.
    init(timeouts: Timeouts, now: NIODeadline) {
        self.timeouts = timeouts
        self.state = .idle(headDeadline: now + timeouts.clientHeader)
    }

    /// When ``timerFired(now:isClientStalled:)`` must next run: the head deadline while idle, the client-stall
    /// deadline while a transfer runs.
    var nextDeadline: NIODeadline? {
        switch self.state {
        case .idle(let deadline):
            return deadline
        case .exchange(let exchange):
            if case .delayed(let until) = exchange.response { return until }
            guard let idle = self.timeouts.idle else { return nil }
            switch exchange.response {
            case .awaitingUpstream(let last), .streaming(let last): return last + idle
            case .headReceived, .answeringLocally, .complete: return nil
            case .delayed: preconditionFailure("unreachable: a delay's deadline is returned first")
            }
        case .closed:
            return nil
        }
    }

    /// The exchange in progress, if any.
    var exchange: ExchangeState? {
        if case .exchange(let exchange) = self.state { return exchange }
        return nil
    }

    var isClosed: Bool { self.state == .closed }

    // MARK: Request parts

    /// A request part from the decoder.
    mutating func requestPartReceived(_ part: HTTPServerRequestPart, now: NIODeadline) -> PartAction {
        if self.state == .closed { return .none }
        if !self.queue.isEmpty {
            self.queue.append(part)
            return .none
        }
        if case .exchange(let exchange) = self.state {
            let isDelayed: Bool
            if case .delayed = exchange.response { isDelayed = true } else { isDelayed = false }
            if isDelayed || part.isHead {
                self.queue.append(part)
                return .none
            }
        }
        return self.process(part, now: now)
    }

    /// The next queued part that can be handled now, and what to do with it; `nil` when there is none.
    mutating func nextQueuedPart(now: NIODeadline) -> PartAction? {
        guard let part = self.queue.first else { return nil }
        switch self.state {
        case .closed:
            return nil
        case .exchange(let exchange):
            if case .head = part { return nil }
            if case .delayed = exchange.response { return nil }
        case .idle:
            break
        }
        self.queue.removeFirst()
        return self.process(part, now: now)
    }

    private mutating func process(_ part: HTTPServerRequestPart, now: NIODeadline) -> PartAction {
        switch (self.state, part) {
        case (.idle, .head(let head)):
            self.state = .exchange(
                ExchangeState(request: .receiving, response: .headReceived, keepsAlive: Self.keepsAlive(head))
            )
            return .startExchange(head)
        case (.exchange(let exchange), .body(let buffer)):
            guard exchange.request == .receiving else { return .none }
            switch exchange.response {
            case .awaitingUpstream, .streaming:
                return .forwardBody(buffer)
            case .complete:
                return .none
            case .headReceived, .answeringLocally, .delayed:
                preconditionFailure("request body while the exchange is being planned: \(self.state)")
            }
        case (.exchange(var exchange), .end):
            guard exchange.request == .receiving else { return .none }
            exchange.request = .complete
            guard exchange.response == .complete else {
                self.state = .exchange(exchange)
                return .finishUpload
            }
            return .exchangeComplete(closes: self.endExchange(now: now))
        case (.idle, .body), (.idle, .end), (.exchange, .head), (.closed, _):
            preconditionFailure("request part \(part) in \(self.state)")
        }
    }

    /// Whether a connection can carry another request after this one: the client's keep-alive choice, unless
    /// an HTTP/1.0 request has `Transfer-Encoding`, whose framing must be treated as faulty (RFC 9112 §6.1).
    private static func keepsAlive(_ head: HTTPRequestHead) -> Bool {
        head.isKeepAlive && (head.version.isHTTP11OrLater || !head.headers.contains(name: "transfer-encoding"))
    }

    /// Ends the exchange whose request and response are complete.
    /// - Returns: Whether the connection closes.
    private mutating func endExchange(now: NIODeadline) -> Bool {
        if self.isQuiescing {
            self.state = .closed
            return true
        }
        self.state = .idle(headDeadline: now + self.timeouts.clientHeader)
        return false
    }

    // MARK: The exchange

    /// The exchange's config snapshot is pinned: its timeouts apply from now on.
    mutating func snapshotPinned(_ timeouts: Timeouts) {
        self.timeouts = timeouts
    }

    /// The plan answers locally, or the transfer failed before its head: the proxy writes its own answer.
    /// - Parameter closesConnection: The answer comes before the request body was read, or after a fault that
    ///   leaves the connection unusable.
    /// - Returns: Whether the answer announces that the connection stays open.
    mutating func answerLocally(closesConnection: Bool) -> Bool {
        guard case .exchange(var exchange) = self.state else {
            preconditionFailure("local answer in \(self.state)")
        }
        switch exchange.response {
        case .headReceived, .awaitingUpstream:
            exchange.response = .answeringLocally
            if closesConnection {
                exchange.keepsAlive = false
                exchange.request = .complete
            }
            self.state = .exchange(exchange)
            return exchange.keepsAlive
        case .answeringLocally, .streaming, .complete, .delayed:
            preconditionFailure("local answer in \(self.state)")
        }
    }

    /// The plan is held for a `latency` fault until `until`, when ``timerFired(now:isClientStalled:)`` says
    /// ``TimerAction/delayEnded``.
    mutating func delay(until: NIODeadline) {
        guard case .exchange(var exchange) = self.state, exchange.response == .headReceived else {
            preconditionFailure("delay in \(self.state)")
        }
        exchange.response = .delayed(until: until)
        self.state = .exchange(exchange)
    }

    /// The plan forwards the request: a transfer started.
    mutating func upstreamStarted(now: NIODeadline) {
        guard case .exchange(var exchange) = self.state, exchange.response == .headReceived else {
            preconditionFailure("upstream started in \(self.state)")
        }
        exchange.response = .awaitingUpstream(lastProgress: now)
        self.state = .exchange(exchange)
    }

    /// The upstream's head is about to go out.
    /// - Parameters:
    ///   - closesConnection: Its body has no length and the client speaks HTTP/1.0: the connection's end marks
    ///     the body's end.
    ///   - now: The time.
    /// - Returns: Whether the head announces that the connection stays open.
    mutating func upstreamHeadWritten(closesConnection: Bool, now: NIODeadline) -> Bool {
        guard case .exchange(var exchange) = self.state, case .awaitingUpstream = exchange.response else {
            preconditionFailure("upstream head in \(self.state)")
        }
        exchange.response = .streaming(lastProgress: now)
        if closesConnection { exchange.keepsAlive = false }
        self.state = .exchange(exchange)
        return exchange.keepsAlive
    }

    /// A response body write completed: the client is reading.
    mutating func bodyWritten(now: NIODeadline) {
        guard case .exchange(var exchange) = self.state, case .streaming = exchange.response else { return }
        exchange.response = .streaming(lastProgress: now)
        self.state = .exchange(exchange)
    }

    /// The response's end was written.
    mutating func responseEnded(now: NIODeadline) -> ResponseEndAction {
        guard case .exchange(var exchange) = self.state else { preconditionFailure("response end in \(self.state)") }
        switch exchange.response {
        case .answeringLocally, .streaming:
            break
        case .headReceived, .delayed, .awaitingUpstream, .complete:
            preconditionFailure("response end in \(self.state)")
        }
        exchange.response = .complete
        if !exchange.keepsAlive || self.isQuiescing {
            self.state = .closed
            return .close
        }
        guard exchange.request == .complete else {
            self.state = .exchange(exchange)
            return .drainRequest
        }
        return self.endExchange(now: now) ? .close : .nextRequest
    }

    /// The transfer failed.
    mutating func upstreamFailed() -> FailureAction {
        self.exchangeFailed("upstream failure", whileReceiving: false)
    }

    /// The request body grew past `limits.maxBodyBytes`.
    mutating func requestBodyTooLarge() -> FailureAction {
        self.exchangeFailed("oversized body", whileReceiving: true)
    }

    /// A failure while a transfer runs: answered when nothing was sent yet, else the exchange is aborted.
    /// - Parameter whileReceiving: The failure can only happen while the request body is still arriving.
    private mutating func exchangeFailed(_ event: String, whileReceiving: Bool) -> FailureAction {
        guard case .exchange(let exchange) = self.state, !whileReceiving || exchange.request == .receiving else {
            preconditionFailure("\(event) in \(self.state)")
        }
        switch exchange.response {
        case .awaitingUpstream:
            return .answer
        case .streaming:
            self.state = .closed
            return .abort
        case .headReceived, .delayed, .answeringLocally, .complete:
            preconditionFailure("\(event) in \(self.state)")
        }
    }

    // MARK: The connection

    /// The decoder cannot parse what the client sent. An answer is written only when it is the answer to the
    /// request that failed: no earlier request is unanswered, and the failing request's response has not
    /// started. The connection closes either way.
    mutating func parserError() -> ParserErrorAction {
        let state = self.state
        self.state = .closed
        switch state {
        case .idle:
            return self.queue.isEmpty ? .answer(endsExchange: false) : .close(abortsExchange: false)
        case .exchange(let exchange):
            let isUnanswered: Bool
            switch exchange.response {
            case .headReceived, .delayed, .awaitingUpstream: isUnanswered = true
            case .answeringLocally, .streaming, .complete: isUnanswered = false
            }
            if exchange.request == .receiving && self.queue.isEmpty && isUnanswered {
                return .answer(endsExchange: true)
            }
            return .close(abortsExchange: true)
        case .closed:
            return .close(abortsExchange: false)
        }
    }

    /// A deadline may have passed.
    /// - Parameters:
    ///   - now: The time.
    ///   - isClientStalled: Whether the transfer waits for the client to read; asked only when the client-stall
    ///     deadline has passed.
    mutating func timerFired(now: NIODeadline, isClientStalled: @autoclosure () -> Bool) -> TimerAction {
        switch self.state {
        case .idle(let deadline):
            guard deadline <= now else { return .none }
            self.state = .closed
            return .closeIdle
        case .exchange(var exchange):
            if case .delayed(let until) = exchange.response {
                guard until <= now else { return .none }
                exchange.response = .headReceived
                self.state = .exchange(exchange)
                return .delayEnded
            }
            guard let idle = self.timeouts.idle else { return .none }
            switch exchange.response {
            case .streaming(let last) where last + idle <= now:
                guard isClientStalled() else {
                    // The client keeps up; the upstream is the slow side, and libcurl's stall timeout covers it.
                    exchange.response = .streaming(lastProgress: now)
                    self.state = .exchange(exchange)
                    return .none
                }
                self.state = .closed
                return .abortStalledClient
            case .awaitingUpstream(let last) where last + idle <= now:
                // No head yet: libcurl's stall timeout covers the upstream.
                exchange.response = .awaitingUpstream(lastProgress: now)
                self.state = .exchange(exchange)
                return .none
            default:
                return .none
            }
        case .closed:
            return .none
        }
    }

    /// Graceful shutdown began.
    /// - Returns: Whether to close now (no exchange in progress).
    mutating func quiesce() -> Bool {
        self.isQuiescing = true
        switch self.state {
        case .idle:
            self.state = .closed
            return true
        case .exchange(var exchange):
            switch exchange.response {
            case .headReceived, .delayed, .awaitingUpstream:
                // Its head is still to be written: it announces the close.
                exchange.keepsAlive = false
                self.state = .exchange(exchange)
            case .answeringLocally, .streaming, .complete:
                break
            }
            return false
        case .closed:
            return false
        }
    }

    /// The connection closes or failed.
    /// - Returns: Whether an exchange was in progress, and is aborted.
    mutating func connectionClosed() -> Bool {
        defer { self.state = .closed }
        if case .exchange = self.state { return true }
        return false
    }

    // MARK: Reads

    /// The channel asks to read.
    /// - Returns: Whether to read now; otherwise the read waits for ``releaseReads()``.
    mutating func readRequested() -> Bool {
        guard self.isUploadHeld || !self.queue.isEmpty else { return true }
        self.hasPendingRead = true
        return false
    }

    /// The transfer's upload backlog passed its high watermark: hold reads.
    mutating func uploadHeld() {
        self.isUploadHeld = true
    }

    /// The upload drained, or the exchange no longer uploads: reads may go on.
    /// - Returns: Whether to issue the read that was held.
    mutating func releaseReads() -> Bool {
        self.isUploadHeld = false
        guard self.hasPendingRead, self.queue.isEmpty else { return false }
        self.hasPendingRead = false
        return true
    }
}

extension HTTPServerRequestPart {
    fileprivate var isHead: Bool {
        if case .head = self { return true }
        return false
    }
}

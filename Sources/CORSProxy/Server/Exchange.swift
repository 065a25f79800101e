internal import CurlBridge
internal import NIOCore
internal import NIOHTTP1

/// One request on a connection, from its head to its end: what the proxy decided for it and what happened, for
/// its ``ExchangeRecord``. Data only: the exchange's phases are ``ConnectionStateMachine``'s. Event loop only.
final class Exchange {
    /// Tags the transfer's events, so late ones of a cancelled transfer never reach the next exchange.
    let id: Int
    let requestID = RequestID.next()
    let head: HTTPRequestHead
    /// The config version this exchange is served by, wholly.
    let snapshot: ConfigSnapshot
    let cors: CORSOutcome
    let started: NIODeadline
    /// `scheme://Host` as the client addressed the proxy; `nil` when `Host` was missing or refused.
    var proxyBase: ProxyBase?
    var route: ProxyConfig.Route?
    /// The prefix of the route the path matched, forwarded or not.
    var routePrefix: String?
    var transfer: Transfer?
    var transferStarted: NIODeadline?
    var upstreamHeadArrived: NIODeadline?
    /// The status the client was sent.
    var status: Int?
    var upstreamStatus: Int?
    /// The `Access-Control-*` lines of the head the client was sent, and the kind of that answer.
    var corsLinesSent: CORSOutcome.SentLines?
    var answer: CORSOutcome.Answer?
    /// The plan, while a `latency` fault holds it.
    var delayedPlan: RequestPlan?
    var bytesIn: Int64 = 0
    var bytesOut = 0
    var error: ProxyError?
    var curlCode: Int?
    /// `CURLINFO_NUM_CONNECTS` of the completed transfer.
    var upstreamConnectionsOpened = 0
    /// The upstream's `X-Rate-Limit-Remaining`, parsed.
    var rateLimitRemaining: Double?
    /// The client's address (``ForwardedChain/client``).
    var clientAddress: String?
    /// The token the request is budgeted under, on a route with `upstreamBudget`.
    var budgetKey: UpstreamBudget.Key?
    /// The response head as written, kept only while an inspector is attached.
    var responseHead: ByteBuffer?

    init(id: Int, head: HTTPRequestHead, snapshot: ConfigSnapshot, cors: CORSOutcome, started: NIODeadline) {
        self.id = id
        self.head = head
        self.snapshot = snapshot
        self.cors = cors
        self.started = started
    }

    /// Whether a response with `status` carries a body: not for 1xx, 204 and 304, nor for any answer to HEAD
    /// (RFC 9110 §6.4.1, §9.3.2).
    func responseHasBody(_ status: HTTPResponseStatus) -> Bool {
        status.mayHaveResponseBody && self.head.method != .HEAD
    }

    /// The response's `Connection` value, if it needs one: HTTP/1.0 keep-alive must be announced; an HTTP/1.1
    /// close must be too.
    static func connectionHeader(version: HTTPVersion, keepsAlive: Bool) -> String? {
        switch (keepsAlive, version.isHTTP11OrLater) {
        case (false, true): "close"
        case (true, false): "keep-alive"
        default: nil
        }
    }

    /// The exchange as its sinks see it.
    /// - Parameters:
    ///   - now: When it ended.
    ///   - note: Why it was aborted, if it was.
    func record(now: NIODeadline, note: String?) -> ExchangeRecord {
        ExchangeRecord(
            requestID: self.requestID,
            head: self.head,
            proxyBase: self.proxyBase,
            route: self.route?.prefix,
            upstream: self.route?.upstream.description,
            routePrefix: self.routePrefix,
            status: self.status ?? 499,
            upstreamStatus: self.upstreamStatus,
            bytesIn: self.bytesIn,
            bytesOut: self.bytesOut,
            duration: Duration(now - self.started),
            upstreamDuration: self.transferStarted.flatMap { start in
                self.upstreamHeadArrived.map { Duration($0 - start) }
            },
            cors: self.cors,
            corsLinesSent: self.corsLinesSent,
            answer: self.answer,
            isReportOnly: self.snapshot.config.cors.mode == .reportOnly,
            errorCode: self.error?.code,
            curlCode: self.curlCode,
            upstreamConnectionsOpened: self.upstreamConnectionsOpened,
            rateLimitRemaining: self.rateLimitRemaining,
            limit: self.error?.limit,
            clientAddress: self.clientAddress,
            configVersion: self.snapshot.version,
            note: note,
            responseHead: self.responseHead
        )
    }
}

import NIOCore
import NIOHTTP1
import Testing

@testable import CORSProxy

/// The connection state machine on its own: no sockets, no sleeps; time is whatever each event says.
@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine
    static let timeouts = Machine.Timeouts(clientHeader: .seconds(30), idle: .seconds(60))
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func head(
        _ method: HTTPMethod = .GET,
        version: HTTPVersion = .http1_1,
        _ headers: [(String, String)] = []
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/x", headers: HTTPHeaders(headers))
    }

    static func at(_ seconds: Int64) -> NIODeadline { Self.start + .seconds(seconds) }

    /// A machine with a GET in progress, planned as `plan` (`local` or `upstream`).
    static func inExchange(_ head: HTTPRequestHead = Self.head()) -> Machine {
        var machine = Machine(timeouts: Self.timeouts, now: Self.start)
        do {
            let result = machine.requestPartReceived(.head(head), now: Self.start)
            #expect(result == .startExchange(head))
        }
        return machine
    }

    @Test("a new connection waits clientHeader for its first head")
    func idle() {
        var machine = Machine(timeouts: Self.timeouts, now: Self.start)
        #expect(machine.nextDeadline == Self.at(30))
        #expect(machine.exchange == nil)
        do {
            let result = machine.timerFired(now: Self.at(29), isClientStalled: false)
            #expect(result == .none)
        }
        do {
            let result = machine.timerFired(now: Self.at(30), isClientStalled: false)
            #expect(result == .closeIdle)
        }
        #expect(machine.isClosed)
        do {
            let result = machine.requestPartReceived(.head(Self.head()), now: Self.at(31))
            #expect(result == .none)
        }
    }

    @Test(
        "a local answer before the request's end: the body is drained, then the exchange ends and the connection idles"
    )
    func localAnswer() {
        var machine = Self.inExchange(Self.head(.POST))
        #expect(machine.exchange == .init(request: .receiving, response: .headReceived, keepsAlive: true))
        #expect(machine.nextDeadline == nil)
        do {
            let result = machine.answerLocally(closesConnection: false)
            #expect(result)
        }
        #expect(machine.exchange?.response == .answeringLocally)
        do {
            let result = machine.responseEnded(now: Self.at(1))
            #expect(result == .drainRequest)
        }
        #expect(machine.exchange?.response == .complete)
        do {
            let result = machine.requestPartReceived(.body(ByteBuffer(string: "x")), now: Self.at(1))
            #expect(result == .none)
        }
        do {
            let result = machine.requestPartReceived(.end(nil), now: Self.at(2))
            #expect(result == .exchangeComplete(closes: false))
        }
        #expect(machine.exchange == nil)
        #expect(machine.nextDeadline == Self.at(32))
    }

    @Test("a forwarded exchange: body forwarded, upload finished, head, body writes, end")
    func forwarded() {
        var machine = Self.inExchange(Self.head(.POST))
        machine.upstreamStarted(now: Self.at(1))
        #expect(machine.exchange?.response == .awaitingUpstream(lastProgress: Self.at(1)))
        #expect(machine.nextDeadline == Self.at(61))
        let body = ByteBuffer(string: "data")
        do {
            let result = machine.requestPartReceived(.body(body), now: Self.at(1))
            #expect(result == .forwardBody(body))
        }
        do {
            let result = machine.requestPartReceived(.end(nil), now: Self.at(1))
            #expect(result == .finishUpload)
        }
        #expect(machine.exchange?.request == .complete)
        do {
            let result = machine.upstreamHeadWritten(closesConnection: false, now: Self.at(2))
            #expect(result)
        }
        #expect(machine.nextDeadline == Self.at(62))
        machine.bodyWritten(now: Self.at(5))
        #expect(machine.nextDeadline == Self.at(65))
        do {
            let result = machine.responseEnded(now: Self.at(6))
            #expect(result == .nextRequest)
        }
        #expect(machine.exchange == nil)
        #expect(machine.nextDeadline == Self.at(36))
    }

    @Test("a response that ends before its request's upload: the exchange ends with the request")
    func responseBeforeUpload() {
        var machine = Self.inExchange(Self.head(.PUT))
        machine.upstreamStarted(now: Self.at(0))
        do {
            let result = machine.upstreamHeadWritten(closesConnection: false, now: Self.at(1))
            #expect(result)
        }
        do {
            let result = machine.responseEnded(now: Self.at(1))
            #expect(result == .drainRequest)
        }
        do {
            let result = machine.requestPartReceived(.body(ByteBuffer(string: "late")), now: Self.at(2))
            #expect(result == .none)
        }
        do {
            let result = machine.requestPartReceived(.end(nil), now: Self.at(2))
            #expect(result == .exchangeComplete(closes: false))
        }
    }

    @Test("pipelined requests wait, hold reads, and start in order when the exchange ends")
    func pipelining() {
        let first = Self.head(.GET)
        var second = Self.head(.DELETE)
        second.uri = "/second"
        var machine = Self.inExchange(first)
        machine.upstreamStarted(now: Self.start)
        do {
            let result = machine.requestPartReceived(.end(nil), now: Self.start)
            #expect(result == .finishUpload)
        }
        do {
            let result = machine.requestPartReceived(.head(second), now: Self.start)
            #expect(result == .none)
        }
        do {
            let result = machine.requestPartReceived(.end(nil), now: Self.start)
            #expect(result == .none)
        }
        do {
            let result = machine.readRequested()
            #expect(!result)
        }
        do {
            let result = machine.nextQueuedPart(now: Self.start)
            #expect(result == nil)
        }
        do {
            let result = machine.upstreamHeadWritten(closesConnection: false, now: Self.at(1))
            #expect(result)
        }
        do {
            let result = machine.responseEnded(now: Self.at(1))
            #expect(result == .nextRequest)
        }
        do {
            let result = machine.nextQueuedPart(now: Self.at(1))
            #expect(result == .startExchange(second))
        }
        do {
            let result = machine.answerLocally(closesConnection: false)
            #expect(result)
        }
        do {
            let result = machine.responseEnded(now: Self.at(1))
            #expect(result == .drainRequest)
        }
        do {
            let result = machine.nextQueuedPart(now: Self.at(1))
            #expect(result == .exchangeComplete(closes: false))
        }
        do {
            let result = machine.nextQueuedPart(now: Self.at(1))
            #expect(result == nil)
        }
        do {
            let result = machine.releaseReads()
            #expect(result)
        }
        do {
            let result = machine.readRequested()
            #expect(result)
        }
    }

    @Test("the end of a first request that is still uploading is not queued")
    func firstRequestEnd() {
        var machine = Self.inExchange(Self.head(.POST))
        machine.upstreamStarted(now: Self.start)
        do {
            let result = machine.requestPartReceived(.end(nil), now: Self.start)
            #expect(result == .finishUpload)
        }
    }

    @Test("an upload above the transfer's high watermark holds reads until it drains")
    func uploadBackPressure() {
        var machine = Self.inExchange(Self.head(.POST))
        machine.upstreamStarted(now: Self.start)
        do {
            let result = machine.readRequested()
            #expect(result)
        }
        machine.uploadHeld()
        do {
            let result = machine.readRequested()
            #expect(!result)
        }
        do {
            let result = machine.releaseReads()
            #expect(result)
        }
        do {
            let result = machine.releaseReads()
            #expect(!result)
        }
        do {
            let result = machine.readRequested()
            #expect(result)
        }
    }

    @Test(
        "whether the connection outlives the response",
        arguments: [
            (HTTPVersion.http1_1, [(String, String)](), true),
            (.http1_1, [("Connection", "close")], false),
            (.http1_0, [], false),
            (.http1_0, [("Connection", "keep-alive")], true),
            // RFC 9112 §6.1: an HTTP/1.0 request with Transfer-Encoding has faulty framing: close after it.
            (.http1_0, [("Connection", "keep-alive"), ("Transfer-Encoding", "chunked")], false),
            (.http1_1, [("Transfer-Encoding", "chunked")], true),
        ]
    )
    func keepAlive(version: HTTPVersion, headers: [(String, String)], keepsAlive: Bool) {
        var machine = Self.inExchange(Self.head(.POST, version: version, headers))
        do {
            let result = machine.answerLocally(closesConnection: false)
            #expect(result == keepsAlive)
        }
        do {
            let result = machine.responseEnded(now: Self.at(1))
            #expect(result == (keepsAlive ? .drainRequest : .close))
        }
        #expect(machine.isClosed == !keepsAlive)
    }

    @Test("an answer before the body was read closes the connection and reads no more of the request")
    func answeredBeforeBody() {
        var machine = Self.inExchange(Self.head(.POST))
        do {
            let result = machine.answerLocally(closesConnection: true)
            #expect(!result)
        }
        #expect(machine.exchange?.request == .complete)
        do {
            let result = machine.responseEnded(now: Self.at(1))
            #expect(result == .close)
        }
        do {
            let result = machine.requestPartReceived(.body(ByteBuffer(string: "x")), now: Self.at(1))
            #expect(result == .none)
        }
    }

    @Test("an HTTP/1.0 response without a length closes the connection")
    func closeDelimited() {
        var machine = Self.inExchange(Self.head(.GET, version: .http1_0, [("Connection", "keep-alive")]))
        machine.upstreamStarted(now: Self.start)
        do {
            let result = machine.upstreamHeadWritten(closesConnection: true, now: Self.at(1))
            #expect(!result)
        }
        do {
            let result = machine.responseEnded(now: Self.at(2))
            #expect(result == .close)
        }
    }

    @Test("an upstream failure before its head is answered; after it, the exchange is aborted")
    func upstreamFailure() {
        var before = Self.inExchange()
        before.upstreamStarted(now: Self.start)
        do {
            let result = before.upstreamFailed()
            #expect(result == .answer)
        }
        do {
            let result = before.answerLocally(closesConnection: false)
            #expect(result)
        }
        var after = Self.inExchange()
        after.upstreamStarted(now: Self.start)
        _ = after.upstreamHeadWritten(closesConnection: false, now: Self.start)
        do {
            let result = after.upstreamFailed()
            #expect(result == .abort)
        }
        #expect(after.isClosed)
    }

    @Test("a body over its limit is answered 413 before the response starts, and aborts the exchange after")
    func bodyTooLarge() {
        var before = Self.inExchange(Self.head(.POST))
        before.upstreamStarted(now: Self.start)
        do {
            let result = before.requestBodyTooLarge()
            #expect(result == .answer)
        }
        do {
            let result = before.answerLocally(closesConnection: true)
            #expect(!result)
        }
        var after = Self.inExchange(Self.head(.POST))
        after.upstreamStarted(now: Self.start)
        _ = after.upstreamHeadWritten(closesConnection: false, now: Self.start)
        do {
            let result = after.requestBodyTooLarge()
            #expect(result == .abort)
        }
        #expect(after.isClosed)
    }

    @Test("a parser error is answered only when the answer belongs to the request that failed")
    func parserErrors() {
        var idle = Machine(timeouts: Self.timeouts, now: Self.start)
        do {
            let result = idle.parserError()
            #expect(result == .answer(endsExchange: false))
        }
        #expect(idle.isClosed)

        var inBody = Self.inExchange(Self.head(.POST))
        inBody.upstreamStarted(now: Self.start)
        do {
            let result = inBody.parserError()
            #expect(result == .answer(endsExchange: true))
        }

        var streaming = Self.inExchange(Self.head(.POST))
        streaming.upstreamStarted(now: Self.start)
        _ = streaming.upstreamHeadWritten(closesConnection: false, now: Self.start)
        do {
            let result = streaming.parserError()
            #expect(result == .close(abortsExchange: true))
        }

        var behindPending = Self.inExchange()
        behindPending.upstreamStarted(now: Self.start)
        _ = behindPending.requestPartReceived(.end(nil), now: Self.start)
        do {
            let result = behindPending.parserError()
            #expect(result == .close(abortsExchange: true))
        }

        var queued = Self.inExchange()
        _ = queued.answerLocally(closesConnection: false)
        _ = queued.responseEnded(now: Self.start)
        _ = queued.requestPartReceived(.head(Self.head()), now: Self.start)
        do {
            let result = queued.parserError()
            #expect(result == .close(abortsExchange: true))
        }

        var closed = Machine(timeouts: Self.timeouts, now: Self.start)
        _ = closed.connectionClosed()
        do {
            let result = closed.parserError()
            #expect(result == .close(abortsExchange: false))
        }
    }

    @Test("a client that reads nothing for timeouts.idle is given up; a slow upstream is libcurl's to time out")
    func clientStall() {
        var machine = Self.inExchange()
        machine.upstreamStarted(now: Self.start)
        do {
            let result = machine.timerFired(now: Self.at(60), isClientStalled: true)
            #expect(result == .none)
        }
        #expect(machine.nextDeadline == Self.at(120))
        _ = machine.upstreamHeadWritten(closesConnection: false, now: Self.at(70))
        do {
            let result = machine.timerFired(now: Self.at(129), isClientStalled: true)
            #expect(result == .none)
        }
        do {
            let result = machine.timerFired(now: Self.at(130), isClientStalled: false)
            #expect(result == .none)
        }
        #expect(machine.nextDeadline == Self.at(190))
        do {
            let result = machine.timerFired(now: Self.at(190), isClientStalled: true)
            #expect(result == .abortStalledClient)
        }
        #expect(machine.isClosed)
        #expect(machine.nextDeadline == nil)
    }

    @Test("without timeouts.idle, no deadline runs during an exchange")
    func noIdleTimeout() {
        var machine = Machine(timeouts: .init(clientHeader: .seconds(5), idle: nil), now: Self.start)
        _ = machine.requestPartReceived(.head(Self.head()), now: Self.start)
        machine.upstreamStarted(now: Self.start)
        #expect(machine.nextDeadline == nil)
        do {
            let result = machine.timerFired(now: Self.at(1000), isClientStalled: true)
            #expect(result == .none)
        }
    }

    @Test("the pinned snapshot's timeouts apply from the exchange on")
    func pinnedTimeouts() {
        var machine = Self.inExchange()
        machine.snapshotPinned(.init(clientHeader: .seconds(2), idle: .seconds(3)))
        machine.upstreamStarted(now: Self.start)
        _ = machine.requestPartReceived(.end(nil), now: Self.start)
        #expect(machine.nextDeadline == Self.at(3))
        _ = machine.upstreamHeadWritten(closesConnection: false, now: Self.start)
        do {
            let result = machine.responseEnded(now: Self.at(1))
            #expect(result == .nextRequest)
        }
        #expect(machine.nextDeadline == Self.at(3))
    }

    @Test("quiescing: an idle connection closes at once, a busy one after its exchange, announcing it if it can")
    func quiescing() {
        var idle = Machine(timeouts: Self.timeouts, now: Self.start)
        do {
            let result = idle.quiesce()
            #expect(result)
        }
        #expect(idle.isClosed)

        var planned = Self.inExchange()
        do {
            let result = planned.quiesce()
            #expect(!result)
        }
        do {
            let result = planned.answerLocally(closesConnection: false)
            #expect(!result)
        }

        var streaming = Self.inExchange()
        streaming.upstreamStarted(now: Self.start)
        _ = streaming.upstreamHeadWritten(closesConnection: false, now: Self.start)
        do {
            let result = streaming.quiesce()
            #expect(!result)
        }
        #expect(streaming.exchange?.keepsAlive == true)
        do {
            let result = streaming.responseEnded(now: Self.start)
            #expect(result == .close)
        }

        var draining = Self.inExchange(Self.head(.POST))
        _ = draining.answerLocally(closesConnection: false)
        do {
            let result = draining.responseEnded(now: Self.start)
            #expect(result == .drainRequest)
        }
        do {
            let result = draining.quiesce()
            #expect(!result)
        }
        do {
            let result = draining.requestPartReceived(.end(nil), now: Self.start)
            #expect(result == .exchangeComplete(closes: true))
        }
        #expect(draining.isClosed)
    }

    @Test("the connection closing aborts the exchange in progress, once")
    func connectionClosed() {
        var machine = Self.inExchange()
        do {
            let result = machine.connectionClosed()
            #expect(result)
        }
        do {
            let result = machine.connectionClosed()
            #expect(!result)
        }
        var idle = Machine(timeouts: Self.timeouts, now: Self.start)
        do {
            let result = idle.connectionClosed()
            #expect(!result)
        }
    }

    @Test("a latency fault's delay holds the plan: parts that arrive wait with reads held, then go on in order")
    func delayed() {
        var machine = Self.inExchange(Self.head(.POST))
        machine.delay(until: Self.at(2))
        #expect(machine.nextDeadline == Self.at(2))
        let body = ByteBuffer(string: "early")
        do {
            let result = machine.requestPartReceived(.body(body), now: Self.at(1))
            #expect(result == .none)
        }
        do {
            let result = machine.requestPartReceived(.end(nil), now: Self.at(1))
            #expect(result == .none)
        }
        do {
            let result = machine.readRequested()
            #expect(!result)
        }
        do {
            let result = machine.nextQueuedPart(now: Self.at(1))
            #expect(result == nil)
        }
        do {
            let result = machine.timerFired(now: Self.at(1), isClientStalled: false)
            #expect(result == .none)
        }
        do {
            let result = machine.timerFired(now: Self.at(2), isClientStalled: false)
            #expect(result == .delayEnded)
        }
        #expect(machine.exchange?.response == .headReceived)
        machine.upstreamStarted(now: Self.at(2))
        do {
            let result = machine.nextQueuedPart(now: Self.at(2))
            #expect(result == .forwardBody(body))
        }
        do {
            let result = machine.nextQueuedPart(now: Self.at(2))
            #expect(result == .finishUpload)
        }
        do {
            let result = machine.releaseReads()
            #expect(result)
        }
    }

    @Test("a delayed exchange is still unanswered: a parser error is answered, quiescing announces the close")
    func delayedUnanswered() {
        var parser = Self.inExchange(Self.head(.POST))
        parser.delay(until: Self.at(1))
        do {
            let result = parser.parserError()
            #expect(result == .answer(endsExchange: true))
        }
        var quiescing = Self.inExchange()
        quiescing.delay(until: Self.at(1))
        do {
            let result = quiescing.quiesce()
            #expect(!result)
        }
        #expect(quiescing.exchange?.keepsAlive == false)
    }

    @Test("moves that cannot happen trap")
    func impossibleMoves() async {
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(
                timeouts: .init(clientHeader: .seconds(1), idle: nil),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.requestPartReceived(.body(ByteBuffer()), now: .uptimeNanoseconds(0))
        }
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(
                timeouts: .init(clientHeader: .seconds(1), idle: nil),
                now: .uptimeNanoseconds(0)
            )
            machine.upstreamStarted(now: .uptimeNanoseconds(0))
        }
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(
                timeouts: .init(clientHeader: .seconds(1), idle: nil),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.requestPartReceived(
                .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.responseEnded(now: .uptimeNanoseconds(0))
        }
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(
                timeouts: .init(clientHeader: .seconds(1), idle: nil),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.requestPartReceived(
                .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.answerLocally(closesConnection: false)
            _ = machine.answerLocally(closesConnection: false)
        }
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(
                timeouts: .init(clientHeader: .seconds(1), idle: nil),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.requestPartReceived(
                .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.upstreamHeadWritten(closesConnection: false, now: .uptimeNanoseconds(0))
        }
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(
                timeouts: .init(clientHeader: .seconds(1), idle: nil),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.requestPartReceived(
                .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.upstreamFailed()
        }
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(
                timeouts: .init(clientHeader: .seconds(1), idle: nil),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.requestPartReceived(
                .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")),
                now: .uptimeNanoseconds(0)
            )
            _ = machine.answerLocally(closesConnection: true)
            _ = machine.requestBodyTooLarge()
        }
    }
}

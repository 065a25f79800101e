internal import NIOCore
internal import Synchronization

/// `limits.maxConnections`: a handler on the listening channel that stops accepting while that many client
/// connections are open, and accepts again when one closes. The connections beyond the limit are not refused:
/// the kernel completes their handshakes and holds them in the listen backlog until the listener reads again, so
/// a client sees a slow start, never an error or a reset.
///
/// Counted for the whole instance: the listener is one channel, whatever event loop each connection then runs
/// on. The listener must accept one connection per read (`maxMessagesPerRead` 1), or a read could overshoot the
/// limit. Event loop of the listening channel only; the count itself is atomic, since connections close on
/// their own loops.
final class ConnectionLimiter: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private enum State {
        case accepting
        /// `autoRead` is off.
        case paused
    }

    /// The open connections; decremented on the loops they close on.
    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    private let maximum: Int
    private let open = Count()
    private var state = State.accepting

    /// - Parameter maximum: The most client connections open at once, ≥ 1.
    init(maximum: Int) {
        precondition(maximum > 0)
        self.maximum = maximum
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = self.unwrapInboundIn(data)
        let count = self.open.value.wrappingAdd(1, ordering: .relaxed).newValue
        if count >= self.maximum, self.state == .accepting {
            self.state = .paused
            try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        }
        let listener = NIOLoopBound((self, context.channel), eventLoop: context.eventLoop)
        let (open, maximum) = (self.open, self.maximum)
        child.closeFuture.whenComplete { _ in
            let left = open.value.wrappingSubtract(1, ordering: .relaxed).newValue
            // Only the close that leaves the limit can find the listener paused; the ones after it find a
            // resume already on its way.
            guard left == maximum - 1 else { return }
            listener.eventLoop.execute {
                let (limiter, channel) = listener.value
                limiter.resume(channel)
            }
        }
        context.fireChannelRead(data)
    }

    /// Accepts again, if paused and below the limit (another connection may have taken the place since).
    private func resume(_ channel: any Channel) {
        guard self.state == .paused, self.open.value.load(ordering: .relaxed) < self.maximum else { return }
        self.state = .accepting
        try? channel.syncOptions?.setOption(.autoRead, value: true)
    }
}

@available(*, unavailable)
extension ConnectionLimiter: Sendable {}

internal import NIOCore
internal import NIOHTTP1
internal import Synchronization

/// One subscriber of `…/inspector/events`: the body of a server-sent-event response whose head is already
/// written, one `data: {json}` event per exchange (``InspectorEvent``), the ring's recent ones first, and a
/// comment line as a heartbeat.
///
/// It holds no queue: woken by the ring (at most one wake-up pending), it reads the ring from its cursor on its
/// own event loop and writes while the channel is writable. A slow reader leaves its cursor behind; what the
/// ring evicts before it is read is counted, and the client told (`event: dropped`), so memory stays bounded by
/// the ring and the channel's write watermark whatever the reader does.
///
/// Added after the handler that answered the request; it drops request parts that follow. Event loop only.
final class InspectorStream: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart

    /// How often a comment keeps idle connections (and proxies between) from timing out.
    static let heartbeat = TimeAmount.seconds(15)
    /// Events per write.
    private static let batch = 64

    /// Set while a wake-up is scheduled or the channel is not writable: the ring's wake-ups are then ignored.
    private final class WakeFlag: Sendable {
        let isSet = Atomic<Bool>(false)
    }

    private let ring: InspectorRing
    private let wrap: (ByteBuffer) -> NIOAny
    private let flag = WakeFlag()
    private var context: ChannelHandlerContext?
    private var token: Int?
    private var cursor: UInt64 = 0
    private var heartbeat: RepeatedTask?
    /// Events this subscriber never got: the ring evicted them first.
    private(set) var dropped: UInt64 = 0

    /// - Parameters:
    ///   - ring: What it streams.
    ///   - wrap: Makes a body part of the pipeline's response type from bytes.
    init(ring: InspectorRing, wrap: @escaping (ByteBuffer) -> NIOAny) {
        self.ring = ring
        self.wrap = wrap
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let flag = self.flag
        let subscription = self.ring.subscribe(
            InspectorRing.Subscriber(
                wake: {
                    guard
                        flag.isSet.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
                            .exchanged
                    else { return }
                    bound.eventLoop.execute { bound.value.drain() }
                },
                close: { bound.eventLoop.execute { bound.value.context?.close(promise: nil) } }
            )
        )
        self.token = subscription.token
        self.cursor = subscription.cursor
        self.heartbeat = context.eventLoop.scheduleRepeatedTask(
            initialDelay: Self.heartbeat,
            delay: Self.heartbeat
        ) { _ in bound.value.beat() }
        var hello = context.channel.allocator.buffer(capacity: 32)
        hello.writeString("retry: 2000\n: corsproxy inspector\n\n")
        context.write(self.wrap(hello), promise: nil)
        self.flag.isSet.store(true, ordering: .releasing)
        self.drain()
        // Reading on, so a client that goes away is noticed at once (the handler before may have held reads).
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.stop()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Pipelined requests behind a stream that never ends: nothing to answer.
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.drain() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stop()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    private func stop() {
        if let token = self.token { self.ring.unsubscribe(token) }
        self.token = nil
        self.heartbeat?.cancel()
        self.heartbeat = nil
        self.context = nil
    }

    /// Writes what the ring holds past the cursor while the channel takes it.
    private func drain() {
        guard let context = self.context else { return }
        // From here on a new record schedules another drain.
        self.flag.isSet.store(false, ordering: .releasing)
        while context.channel.isWritable {
            let (entries, missed) = self.ring.entries(after: self.cursor, limit: Self.batch)
            var out = context.channel.allocator.buffer(capacity: entries.count * 320 + 64)
            if missed > 0 {
                self.dropped += missed
                self.cursor += missed
                out.writeString("event: dropped\ndata: {\"dropped\":\(self.dropped)}\n\n")
            }
            for entry in entries {
                out.writeStaticString("data: ")
                out.writeImmutableBuffer(InspectorEvent.json(entry))
                out.writeStaticString("\n")
            }
            if let last = entries.last { self.cursor = last.sequence }
            if out.readableBytes > 0 { context.write(self.wrap(out), promise: nil) }
            if entries.isEmpty { break }
        }
        // Not writable: ignore wake-ups until the channel is again (channelWritabilityChanged drains).
        if !context.channel.isWritable { self.flag.isSet.store(true, ordering: .releasing) }
        context.flush()
    }

    private func beat() {
        guard let context = self.context, context.channel.isWritable else { return }
        context.writeAndFlush(self.wrap(ByteBuffer(string: ": heartbeat\n\n")), promise: nil)
    }
}

@available(*, unavailable)
extension InspectorStream: Sendable {}

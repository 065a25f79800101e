import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Starts a ``RecordingProxy``, runs `body`, stops it, also when `body` throws.
func withRecordingProxy<T>(_ body: (RecordingProxy) async throws -> T) async throws -> T {
    try await withStarted(RecordingProxy.start(), body)
}

/// An outbound HTTP proxy on 127.0.0.1:0, as a corporate network has: `CONNECT host:port` opens a tunnel (and
/// relays bytes both ways); a forward-proxy request (`GET http://host:port/path HTTP/1.1`) is relayed to its
/// host with the request line in origin-form. It records the head of every request it is asked, so a test sees
/// what went through it — and what did not.
///
/// Enough for the tests, not a general proxy: forwarded requests have no bodies, and a connection's requests all
/// go to the host its first one named.
final class RecordingProxy: StoppableServer {
    let port: Int
    private let channel: any Channel
    private let heads: NIOLockedValueBox<[String]>

    var url: String { "http://127.0.0.1:\(self.port)" }
    /// Each request head it was sent, request line first, as received.
    var requestHeads: [String] { self.heads.withLockedValue { $0 } }
    /// Each request line.
    var requestLines: [String] { self.requestHeads.map { $0.components(separatedBy: "\r\n")[0] } }

    private init(channel: any Channel, heads: NIOLockedValueBox<[String]>) {
        self.channel = channel
        self.heads = heads
        self.port = channel.localAddress!.port!
    }

    static func start() async throws -> RecordingProxy {
        let heads = NIOLockedValueBox<[String]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientSide(heads: heads))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RecordingProxy(channel: channel, heads: heads)
    }

    func stop() async {
        try? await self.channel.close()
    }

    /// The client's connection: heads are read and recorded until the target is connected, then bytes go on.
    private final class ClientSide: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private enum State {
            case readingHead
            case connecting
            /// `isTunnel`: bytes pass as they are; otherwise each head's request line is rewritten.
            case relaying(target: any Channel, isTunnel: Bool)
            case closed
        }

        private let heads: NIOLockedValueBox<[String]>
        private var state = State.readingHead
        /// Bytes read and not yet relayed.
        private var pending = ByteBuffer()

        init(heads: NIOLockedValueBox<[String]>) { self.heads = heads }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = self.unwrapInboundIn(data)
            self.pending.writeBuffer(&buffer)
            switch self.state {
            case .readingHead:
                guard let length = self.headLength(),
                    let head = self.pending.getString(at: self.pending.readerIndex, length: length)
                else { return }
                // "\r\n" is one Character: split the String, not at "\r".
                let parts = head.components(separatedBy: "\r\n")[0].split(separator: " ")
                guard parts.count == 3 else { return context.close(promise: nil) }
                let isTunnel = parts[0] == "CONNECT"
                let authority =
                    isTunnel
                    ? String(parts[1]) : String(parts[1].dropFirst("http://".count).prefix { $0 != "/" })
                guard let colon = authority.lastIndex(of: ":"),
                    let port = Int(authority[authority.index(after: colon)...])
                else { return context.close(promise: nil) }
                self.state = .connecting
                self.connect(host: String(authority[..<colon]), port: port, isTunnel: isTunnel, context: context)
            case .relaying(let target, let isTunnel):
                self.relay(to: target, isTunnel: isTunnel)
            case .connecting, .closed:
                break
            }
        }

        private func connect(host: String, port: Int, isTunnel: Bool, context: ChannelHandlerContext) {
            let client = context.channel
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            ClientBootstrap(group: context.eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TargetSide(client: client))
                    }
                }
                .connect(host: host, port: port)
                .whenComplete { result in
                    let handler = bound.value
                    guard case .connecting = handler.state, case .success(let target) = result else {
                        client.close(promise: nil)
                        return
                    }
                    handler.state = .relaying(target: target, isTunnel: isTunnel)
                    if isTunnel {
                        let head = handler.pending.readString(length: handler.headLength()!)!
                        handler.heads.withLockedValue { $0.append(head) }
                        client.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n"))
                            .whenComplete { _ in bound.value.relay(to: target, isTunnel: true) }
                    } else {
                        handler.relay(to: target, isTunnel: false)
                    }
                }
        }

        /// Sends what is pending on: all of it through a tunnel, complete heads otherwise (recorded, their
        /// request lines in origin-form).
        private func relay(to target: any Channel, isTunnel: Bool) {
            if isTunnel {
                guard self.pending.readableBytes > 0 else { return }
                target.writeAndFlush(self.pending, promise: nil)
                self.pending.clear()
                return
            }
            while let length = self.headLength(), let head = self.pending.readString(length: length) {
                self.heads.withLockedValue { $0.append(head) }
                var lines = head.components(separatedBy: "\r\n")
                let parts = lines[0].split(separator: " ")
                if parts.count == 3, parts[1].hasPrefix("http://") {
                    let path = parts[1].dropFirst("http://".count).drop { $0 != "/" }
                    lines[0] = "\(parts[0]) \(path.isEmpty ? "/" : path) \(parts[2])"
                }
                target.writeAndFlush(ByteBuffer(string: lines.joined(separator: "\r\n")), promise: nil)
            }
        }

        /// The length of the head at the start of ``pending``, blank line included, once it is complete.
        private func headLength() -> Int? {
            let view = self.pending.readableBytesView
            guard let range = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
            return range.upperBound - view.startIndex
        }

        func channelInactive(context: ChannelHandlerContext) {
            if case .relaying(let target, _) = self.state { target.close(promise: nil) }
            self.state = .closed
        }
    }

    /// The target's connection: its bytes go back to the client as they are.
    private final class TargetSide: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let client: any Channel

        init(client: any Channel) { self.client = client }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.client.writeAndFlush(self.unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.client.close(promise: nil)
        }
    }
}

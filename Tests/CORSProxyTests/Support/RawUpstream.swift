import NIOCore
import NIOPosix

/// Starts a ``RawUpstream`` that answers every connection with `answer`, runs `body`, then stops it, also when
/// `body` throws.
func withRawUpstream<T>(answer: String, _ body: (RawUpstream) async throws -> T) async throws -> T {
    try await withStarted(RawUpstream.start(answer: answer), body)
}

/// A TCP server on 127.0.0.1:0 that answers whatever arrives with fixed bytes and closes: an upstream that
/// speaks broken HTTP, which no HTTP library would produce.
final class RawUpstream: StoppableServer {
    let port: Int
    private let channel: any Channel

    var url: String { "http://127.0.0.1:\(self.port)" }

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    static func start(answer: String) async throws -> RawUpstream {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Answer(bytes: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RawUpstream(channel: channel)
    }

    func stop() async {
        try? await self.channel.close()
    }

    private final class Answer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let bytes: String
        var hasAnswered = false

        init(bytes: String) { self.bytes = bytes }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.hasAnswered else { return }
            self.hasAnswered = true
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: self.bytes))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}

internal import ArgumentParser
internal import CORSProxy
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

#if canImport(Glibc)
internal import Glibc
#endif

/// `corsproxy-floor nio`: the proxy's listener, event loops and channel pipeline, answering every request with
/// the same bytes, head and body, without going upstream.
struct NIOFloor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nio",
        abstract: "Serve one fixed response with the proxy's event loops and HTTP pipeline."
    )

    @Option(help: "Address to listen on, host:port (port 0 picks one).")
    var listen = "127.0.0.1:0"

    @Option(help: "The response to send, as on the wire: status line, headers, blank line, body.")
    var response: String

    @Option(help: "The proxy's config file, for its limits.maxHeaderBytes.")
    var config: String

    func run() async throws {
        guard let address = ListenAddress(self.listen) else { throw ValidationError("--listen takes host:port") }
        let maxHeaderBytes = try ProxyConfig.load(path: self.config).limits.maxHeaderBytes
        var bytes = ByteBuffer(bytes: try Self.read(self.response))
        guard let end = bytes.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound,
            let head = bytes.readSlice(length: end - bytes.readerIndex)
        else { throw FloorError(description: "\(self.response) holds no response head") }
        let body = bytes
        signal(SIGPIPE, SIG_IGN)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .proxySocketOptions(acceptsPerRead: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addProxyHTTPCodec(maxHeaderBytes: maxHeaderBytes)
                    try pipeline.addHandler(FixedResponseHandler(head: head, body: body))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        print("corsproxy-floor nio listening on \(address.host):\(channel.localAddress?.port ?? address.port)")
        fflush(nil)
        try await channel.closeFuture.get()
    }

    private static func read(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw FloorError(description: "cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while case let count = fread(&chunk, 1, chunk.count, file), count > 0 {
            bytes += chunk[..<count]
        }
        return bytes
    }
}

/// Answers each request, once its end arrives, as the proxy relays an upstream response: the serialized head,
/// the body (when there is one: a preflight's 204 has none), the end, then a flush.
private final class FixedResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ResponsePart

    private let head: ByteBuffer
    private let body: ByteBuffer

    init(head: ByteBuffer, body: ByteBuffer) {
        self.head = head
        self.body = body
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = self.unwrapInboundIn(data) else { return }
        context.write(self.wrapOutboundOut(.serializedHead(self.head, isChunked: false)), promise: nil)
        if self.body.readableBytes > 0 { context.write(self.wrapOutboundOut(.body(self.body)), promise: nil) }
        context.write(self.wrapOutboundOut(.end), promise: nil)
        context.flush()
    }
}

package import NIOCore
internal import NIOHTTP1
package import NIOPosix

extension ServerBootstrap {
    /// The socket options of the proxy's listener and of its client connections (`bench/engines floor` serves
    /// with them too).
    /// - Parameter acceptsPerRead: Connections accepted per read of the listener.
    package func proxySocketOptions(acceptsPerRead: UInt) -> ServerBootstrap {
        self.serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.maxMessagesPerRead, value: acceptsPerRead)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// The proxy's HTTP/1.1 codec: NIO's request decoder, its header limits at `maxHeaderBytes`, with the
    /// proxy's own ``ResponseEncoder``. No outbound header validation: every header value is the proxy's own, a
    /// request header llhttp already checked, or an upstream line `ResponseHeadParser` checked.
    package func addProxyHTTPCodec(maxHeaderBytes: Int) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldSize = maxHeaderBytes
        try self.addHandler(ResponseEncoder())
        try self.addHandler(ByteToMessageHandler(HTTPRequestDecoder(limitConfiguration: limits)))
    }
}

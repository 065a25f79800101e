package import NIOCore
package import NIOHTTP1

/// A part of a response as the proxy's handlers write it.
package enum ResponsePart {
    /// A head the encoder serializes as given: the writer includes `Content-Length` whenever a body follows
    /// (the proxy's own answers), so the body is written as it comes.
    case head(HTTPResponseHead)
    /// A head already serialized, status line to the blank line (a relayed upstream response). `isChunked`: the
    /// head says `Transfer-Encoding: chunked`, and the encoder frames the body parts that follow as chunks.
    case serializedHead(ByteBuffer, isChunked: Bool)
    case body(ByteBuffer)
    /// The end of the response: the last chunk when the body is chunked, nothing otherwise.
    case end
}

/// Turns ``ResponsePart``s into bytes on the wire. It takes the place of NIO's `HTTPResponseEncoder` so that a
/// relayed response head goes out as the bytes ``ProxyHandler`` assembled from the upstream's own, without
/// passing through `HTTPHeaders` and its strings. Framing decisions (length, chunked, none for `HEAD`, 204 and
/// 304, close-delimited for HTTP/1.0) are the writer's; this only carries them out.
final class ResponseEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = IOData

    private var isChunked = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head):
            var buffer = context.channel.allocator.buffer(capacity: 256)
            Self.writeStatusLine(version: head.version, status: head.status, into: &buffer)
            for (name, value) in head.headers { buffer.writeHeader(name, value) }
            buffer.writeStaticString("\r\n")
            self.isChunked = false
            context.write(self.wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
        case .serializedHead(let buffer, let isChunked):
            self.isChunked = isChunked
            context.write(self.wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
        case .body(let buffer):
            guard self.isChunked else {
                return context.write(self.wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
            }
            guard buffer.readableBytes > 0 else {
                // An empty chunk would read as the last one.
                promise?.succeed()
                return
            }
            var size = context.channel.allocator.buffer(capacity: 18)
            size.writeString(String(buffer.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            context.write(self.wrapOutboundOut(.byteBuffer(size)), promise: nil)
            context.write(self.wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
            context.write(self.wrapOutboundOut(.byteBuffer(Self.crlf)), promise: promise)
        case .end:
            let last = self.isChunked ? Self.lastChunk : Self.nothing
            self.isChunked = false
            context.write(self.wrapOutboundOut(.byteBuffer(last)), promise: promise)
        }
    }

    /// `HTTP/1.1 200 OK\r\n`.
    static func writeStatusLine(version: HTTPVersion, status: HTTPResponseStatus, into buffer: inout ByteBuffer) {
        if version.isHTTP11OrLater, let line = self.commonStatusLine(status) {
            buffer.writeStaticString(line)
            return
        }
        buffer.writeStaticString(version.isHTTP11OrLater ? "HTTP/1.1 " : "HTTP/1.0 ")
        buffer.writeString(String(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    /// The HTTP/1.1 status lines of most responses, whole: one copy instead of formatting the code and writing
    /// four pieces. The same bytes as the general path (ResponseEncoderTests checks).
    static func commonStatusLine(_ status: HTTPResponseStatus) -> StaticString? {
        switch status {
        case .ok: "HTTP/1.1 200 OK\r\n"
        case .noContent: "HTTP/1.1 204 No Content\r\n"
        case .notModified: "HTTP/1.1 304 Not Modified\r\n"
        case .forbidden: "HTTP/1.1 403 Forbidden\r\n"
        default: nil
        }
    }

    private static let crlf = ByteBuffer(string: "\r\n")
    private static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
    private static let nothing = ByteBuffer()
}

@available(*, unavailable)
extension ResponseEncoder: Sendable {}

extension ByteBuffer {
    /// Writes a `name: value\r\n` header line.
    mutating func writeHeader(_ name: String, _ value: String) {
        self.writeString(name)
        self.writeStaticString(": ")
        self.writeString(value)
        self.writeStaticString("\r\n")
    }
}

extension HTTPVersion {
    /// HTTP/1.1 or a later 1.x: chunked transfer coding, interim responses, persistent connections unless `close`.
    var isHTTP11OrLater: Bool { self.major == 1 && self.minor >= 1 }
}

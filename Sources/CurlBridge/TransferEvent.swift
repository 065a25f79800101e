public import NIOCore

/// The upstream response head as libcurl received it: the final (non-1xx) status and its header fields in order,
/// kept as bytes so that the proxy can copy the ones it passes on without making strings of them.
public struct TransferResponseHead: Sendable {
    /// Where one header field sits in ``lines``.
    public struct Field: Sendable {
        /// The name's bytes.
        public var name: Range<Int>
        /// The value's bytes, optional whitespace trimmed.
        public var value: Range<Int>
        /// The whole `name: value\r\n` line.
        public var line: Range<Int> { self.name.lowerBound..<(self.value.upperBound + 2) }
    }

    public var status: Int
    public var reason: String
    /// Every header as a `name: value\r\n` line, from index 0; obsolete line folding is joined with a space.
    public var lines: ByteBuffer
    public var fields: [Field]

    /// The headers as strings, for callers off the request path.
    public var headers: [(name: String, value: String)] {
        self.fields.map { field in
            (
                self.lines.getString(at: field.name.lowerBound, length: field.name.count) ?? "",
                self.lines.getString(at: field.value.lowerBound, length: field.value.count) ?? ""
            )
        }
    }
}

/// What a ``Transfer`` reports to its owner, in order. Delivered in batches on the curl-loop thread; the owner
/// hops to its own thread.
public enum TransferEvent: Sendable {
    /// The response head arrived.
    case head(TransferResponseHead)
    /// A slice of the response body, exactly as the upstream sent it (no content decoding).
    case body(ByteBuffer)
    /// The response is complete.
    case end(TransferCompletion)
    /// The transfer failed; no more events follow.
    case failed(CurlError)
    /// The upload backlog fell below the low watermark after ``Transfer/appendBody(_:)`` asked the producer to hold.
    case uploadDrained
}

/// What libcurl says about a completed transfer, beyond its response.
public struct TransferCompletion: Sendable, Equatable {
    /// New connections libcurl opened for this transfer (`CURLINFO_NUM_CONNECTS`): 0 when it reused one from the
    /// pool, 1 for a fresh connection (more after a redirect or a retry on a dead kept-alive connection).
    public var newConnections: Int

    /// - Parameter newConnections: `CURLINFO_NUM_CONNECTS` of the transfer.
    public init(newConnections: Int = 0) {
        self.newConnections = newConnections
    }
}

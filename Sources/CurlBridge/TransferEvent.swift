public import NIOCore

/// The upstream response head as libcurl received it: the final (non-1xx) status and its header lines in order.
public struct TransferResponseHead: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(name: String, value: String)]
}

/// What a ``Transfer`` reports to its owner, in order. Delivered in batches on the curl-loop thread; the owner
/// hops to its own thread.
public enum TransferEvent: Sendable {
    /// The response head arrived.
    case head(TransferResponseHead)
    /// A slice of the response body, exactly as the upstream sent it (no content decoding).
    case body(ByteBuffer)
    /// The response is complete.
    case end
    /// The transfer failed; no more events follow.
    case failed(CurlError)
    /// The upload backlog fell below the low watermark after ``Transfer/appendBody(_:)`` asked the producer to hold.
    case uploadDrained
}

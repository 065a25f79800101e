internal import NIOCore
internal import NIOHTTP1

/// An answer the proxy gives itself (health, a preflight, a ``ProxyError``): its status, its own headers and its
/// body. The writer adds `Date`, the exchange's CORS headers and `Vary`, the framing and `Connection`.
struct ProxyResponse {
    var status: HTTPResponseStatus
    var headers: [(name: String, value: String)]
    var body: ByteBuffer
    /// The failure this answers, for the exchange's record.
    var error: ProxyError?
    /// Headers of its own a script must be able to read (`Retry-After` of a 429), exposed with the CORS headers.
    var exposedHeaders: [String] = []

    static func text(_ status: HTTPResponseStatus, _ text: String) -> ProxyResponse {
        ProxyResponse(
            status: status,
            headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
            body: ByteBuffer(string: text)
        )
    }

    static func empty(_ status: HTTPResponseStatus) -> ProxyResponse {
        ProxyResponse(status: status, headers: [], body: ByteBuffer())
    }
}

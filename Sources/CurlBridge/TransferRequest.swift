/// What one upstream transfer sends: the request line, the headers exactly as they go on the wire, and how the
/// body is framed. Built by the proxy, consumed by ``CurlLoop``.
public struct TransferRequest: Sendable {
    /// How the request body reaches the upstream.
    public enum Body: Sendable, Equatable {
        /// No body; `HEAD`, `GET` and friends.
        case none
        /// A body of known length, sent with `Content-Length`.
        case length(Int64)
        /// A body of unknown length, sent chunked.
        case chunked
    }

    public var method: String
    /// The absolute upstream URL, query string included, byte for byte as the client sent it.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Body
    /// Connect timeout in milliseconds; 0 uses libcurl's default.
    public var connectTimeoutMilliseconds: Int
    /// Whole-transfer timeout in milliseconds; 0 means none.
    public var totalTimeoutMilliseconds: Int
    /// Seconds the upstream may send nothing at all (no head, no body byte) before the transfer fails with a
    /// timeout; a transfer paused for a slow client does not count. 0 means no limit.
    public var stallTimeoutSeconds: Int = 0
    /// Speak HTTP/2 to the upstream (TLS ALPN for https, prior knowledge for http) and multiplex requests on
    /// one connection; HTTP/1.1 keep-alive otherwise.
    public var isHTTP2: Bool
    /// A PEM file of CA certificates to trust for this upstream instead of the system's; `nil` for the system's.
    public var caFile: String?
    /// An HTTP proxy, `http://host:port`, to reach the upstream through (`CONNECT` for https upstreams); `nil`
    /// connects directly, whatever `http_proxy`, `https_proxy`, `all_proxy` or `no_proxy` say.
    public var proxy: String?

    /// - Parameters:
    ///   - method: The request method, sent as is.
    ///   - url: The absolute upstream URL.
    ///   - headers: Headers to send; hop-by-hop headers must already be removed.
    ///   - body: How the body is framed.
    ///   - connectTimeoutMilliseconds: Connect timeout; 0 uses libcurl's default.
    ///   - totalTimeoutMilliseconds: Whole-transfer timeout; 0 means none.
    ///   - stallTimeoutSeconds: Longest time the upstream may send nothing; 0 means no limit.
    ///   - isHTTP2: Speak HTTP/2 to the upstream and multiplex.
    ///   - caFile: CA certificates to trust instead of the system's.
    ///   - proxy: The HTTP proxy to go through; `nil` for none.
    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)],
        body: Body,
        connectTimeoutMilliseconds: Int = 0,
        totalTimeoutMilliseconds: Int = 0,
        stallTimeoutSeconds: Int = 0,
        isHTTP2: Bool = false,
        caFile: String? = nil,
        proxy: String? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
        self.stallTimeoutSeconds = stallTimeoutSeconds
        self.isHTTP2 = isHTTP2
        self.caFile = caFile
        self.proxy = proxy
    }
}

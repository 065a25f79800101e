internal import NIOCore

/// `scheme://Host` as the client addressed the proxy, kept as its two parts: most exchanges never need the URL
/// (only a rewritten `Location` or `Link`, a replay or a blocked verdict's message do), so it is joined only then.
struct ProxyBase: Sendable {
    /// `http` or `https`: the listener's, or the client's as a trusted proxy in front reported it.
    let scheme: String
    /// The request's `Host`, as sent, once checked against the allowed hosts.
    let host: String

    /// `scheme://host`.
    var url: String { self.scheme + "://" + self.host }

    /// Writes `scheme://host` into `buffer` (a rewritten `Location` or `Link`).
    func write(into buffer: inout ByteBuffer) {
        buffer.writeString(self.scheme)
        buffer.writeStaticString("://")
        buffer.writeString(self.host)
    }
}

/// A `HOST:PORT` to listen on; IPv6 hosts are bracketed (`[::1]:8787`).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host without brackets.
    public var host: String
    public var port: Int

    /// - Parameters:
    ///   - host: The host name or address, IPv6 without brackets.
    ///   - port: The TCP port; 0 picks a free one.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[IPV6]:PORT`.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let hostText = text[..<colon]
        guard let port = Origin.parsePort(text[text.index(after: colon)...]),
            let host = Origin.normalizedHost(hostText)
        else { return nil }
        self.init(host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: port)
    }

    /// The host as it appears in a URL or `Host` header: IPv6 in brackets.
    public var urlHost: String {
        self.host.contains(":") ? "[\(self.host)]" : self.host
    }

    public var description: String {
        "\(self.urlHost):\(self.port)"
    }
}

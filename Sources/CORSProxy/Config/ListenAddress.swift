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
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = Int(portText), (0...65535).contains(port), portText.allSatisfy(\.isASCII) else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    /// The host as it appears in a URL or `Host` header: IPv6 in brackets.
    public var urlHost: String {
        self.host.contains(":") ? "[\(self.host)]" : self.host
    }

    public var description: String {
        "\(self.urlHost):\(self.port)"
    }
}

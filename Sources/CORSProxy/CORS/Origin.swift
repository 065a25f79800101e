/// A serialized origin (RFC 6454 §6.2) as a browser sends it in `Origin`: `scheme://host[:port]`, nothing more.
///
/// Parsing is strict on purpose: userinfo, a path (even a trailing `/`), a query, an empty host label, a
/// trailing dot, `*`, `_` or any character outside the host grammar make it not an origin, and a string that is
/// not an origin never matches any pattern. Scheme and host are lowercased and a default port is dropped, so
/// `HTTPS://App.Example.com:443` equals `https://app.example.com`.
public struct Origin: Hashable, Sendable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    /// The port, or `nil` for the scheme's default port.
    public let port: Int?

    /// Parses a serialized origin; `nil` for `null` and anything malformed.
    public init?(_ text: String) {
        guard let (scheme, authority) = Self.splitScheme(text), Self.isValidScheme(scheme) else { return nil }
        guard let (host, portText) = Self.splitHostPort(authority), let host = Self.normalizedHost(host) else {
            return nil
        }
        var port: Int?
        if let portText {
            guard let value = Self.parsePort(portText) else { return nil }
            port = value == Self.defaultPort(for: scheme) ? nil : value
        }
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    public var description: String {
        if let port = self.port { return "\(self.scheme)://\(self.host):\(port)" }
        return "\(self.scheme)://\(self.host)"
    }

    /// Splits `scheme://rest` into the lowercased scheme and the rest.
    static func splitScheme(_ text: String) -> (String, Substring)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let rest = text[text.index(after: colon)...]
        guard rest.hasPrefix("//") else { return nil }
        return (text[..<colon].lowercased(), rest.dropFirst(2))
    }

    /// RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`.
    static func isValidScheme(_ scheme: String) -> Bool {
        guard let first = scheme.first, first.isASCII, first.isLetter else { return false }
        return scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }

    static func defaultPort(for scheme: String) -> Int? {
        switch scheme {
        case "http", "ws": 80
        case "https", "wss": 443
        default: nil
        }
    }

    /// Splits `host[:port]`, with IPv6 hosts in brackets. The port part is returned raw (it may be `*`).
    static func splitHostPort(_ authority: Substring) -> (Substring, Substring?)? {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":") else { return nil }
            return (host, rest.dropFirst())
        }
        let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return (parts[0], parts.count == 2 ? parts[1] : nil)
    }

    /// A port written as a browser serializes it: decimal digits, no sign, no leading zero, at most 65535.
    static func parsePort(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            text == "0" || !text.hasPrefix("0"), let value = Int(text), value <= 65535
        else { return nil }
        return value
    }

    /// Lowercases a host and checks it against the host grammar: a bracketed IPv6 address, or dot-separated
    /// labels of letters, digits and hyphens, no label empty and none starting or ending with a hyphen.
    static func normalizedHost(_ host: Substring) -> String? {
        let lower = host.lowercased()
        if lower.hasPrefix("[") {
            let inner = lower.dropFirst().dropLast()
            guard lower.hasSuffix("]"), !inner.isEmpty, inner.contains(":"),
                inner.allSatisfy({ $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") })
            else { return nil }
            return lower
        }
        let labels = lower.split(separator: ".", omittingEmptySubsequences: false)
        guard !labels.isEmpty, labels.allSatisfy(Self.isValidLabel) else { return nil }
        return lower
    }

    static func isValidLabel(_ label: Substring) -> Bool {
        guard !label.isEmpty, label.count <= 63, label.first != "-", label.last != "-" else { return false }
        return label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}

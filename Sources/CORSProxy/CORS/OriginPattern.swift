/// One entry of `cors.allowedOrigins`: what it admits and nothing more.
///
/// - `https://app.example.com`: exactly that origin (case and default port normalised);
/// - `https://*.example.com`: any subdomain of `example.com` at any depth, never `example.com` itself,
///   `evilexample.com` or `example.com.evil.net`;
/// - `http://localhost:*`: any port, the default port included;
/// - `re:^https://(a|b)\.example\.com$`: a regular expression that must match the whole origin;
/// - `*`: any origin (refused by validation together with credentials).
///
/// Every pattern is matched against an ``Origin``, which a malformed `Origin` header never becomes.
public struct OriginPattern: Sendable, CustomStringConvertible {
    enum Port: Sendable, Equatable {
        case exactly(Int?)
        case any
    }

    enum Kind: Sendable {
        case any
        case exact(Origin)
        case host(scheme: String, host: String, isWildcard: Bool, port: Port)
        case regex(RegexBox)
    }

    /// The pattern as written in the config.
    public let source: String
    let kind: Kind

    /// Parses a pattern; on failure returns why, for the config error line.
    public static func parse(_ text: String) -> Result<OriginPattern, PatternError> {
        if text == "*" { return .success(OriginPattern(source: text, kind: .any)) }
        if text.lowercased() == "null" {
            return .failure(
                PatternError(
                    "\"null\" cannot be allowed safely: sandboxed iframes and file:, data: pages of any site send Origin: null"
                )
            )
        }
        if text.hasPrefix("re:") {
            let expression = String(text.dropFirst(3))
            guard !expression.isEmpty, let box = RegexBox(expression) else {
                return .failure(PatternError("\"\(text)\" is not a valid regular expression"))
            }
            return .success(OriginPattern(source: text, kind: .regex(box)))
        }
        let notOrigin = PatternError("\"\(text)\" is not an origin")
        guard let (scheme, authority) = Origin.splitScheme(text) else { return .failure(notOrigin) }
        // Web apps are served over http or https; anything else (`htp://`, `file://`) is a typo or never sent.
        guard scheme == "http" || scheme == "https" else { return .failure(notOrigin) }
        guard let (rawHost, rawPort) = Origin.splitHostPort(authority) else {
            return .failure(notOrigin)
        }
        var port = Port.exactly(nil)
        if let rawPort {
            if rawPort == "*" {
                port = .any
            } else if let value = Origin.parsePort(rawPort) {
                port = .exactly(value == Origin.defaultPort(for: scheme) ? nil : value)
            } else {
                return .failure(notOrigin)
            }
        }
        let isWildcard = rawHost.hasPrefix("*.")
        let hostPart = isWildcard ? rawHost.dropFirst(2) : rawHost
        guard let host = Origin.normalizedHost(hostPart) else {
            return .failure(
                rawHost.contains("*")
                    ? PatternError(
                        "\"\(text)\": `*` may only stand as the whole first host label (https://*.example.com)"
                    )
                    : notOrigin
            )
        }
        if !isWildcard, case .exactly(let exact) = port {
            let origin = Origin(exact.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)")!
            return .success(OriginPattern(source: text, kind: .exact(origin)))
        }
        return .success(
            OriginPattern(source: text, kind: .host(scheme: scheme, host: host, isWildcard: isWildcard, port: port))
        )
    }

    /// Whether the pattern admits `origin`.
    public func matches(_ origin: Origin) -> Bool {
        switch self.kind {
        case .any:
            return true
        case .exact(let allowed):
            return allowed == origin
        case .host(let scheme, let host, let isWildcard, let port):
            guard origin.scheme == scheme else { return false }
            if case .exactly(let value) = port, value != origin.port { return false }
            if isWildcard {
                // A subdomain: at least one whole label before ".host".
                return origin.host.count > host.count + 1 && origin.host.hasSuffix("." + host)
            }
            return origin.host == host
        case .regex(let box):
            return box.wholeMatches(origin.description)
        }
    }

    /// Whether this is the `"*"` pattern.
    public var isAny: Bool {
        if case .any = self.kind { return true }
        return false
    }

    /// The exact origin this pattern admits, when it admits exactly one.
    public var exactOrigin: Origin? {
        if case .exact(let origin) = self.kind { return origin }
        return nil
    }

    public var description: String { self.source }
}

/// Why a string is not a valid origin pattern.
public struct PatternError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A compiled `re:` pattern.
final class RegexBox: @unchecked Sendable {
    // @unchecked: the Regex is created once and only read; whole-match on an immutable Regex is thread-safe.
    private let regex: Regex<AnyRegexOutput>
    /// The expression as written, without `re:`.
    let source: String

    init?(_ expression: String) {
        guard let regex = try? Regex(expression) else { return nil }
        self.regex = regex
        self.source = expression
    }

    func wholeMatches(_ text: String) -> Bool {
        (try? self.regex.wholeMatch(in: text)) != nil
    }
}

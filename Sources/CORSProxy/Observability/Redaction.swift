/// Keeps secrets out of logs: the proxy logs paths, never headers, and masks query values that carry tokens.
enum Redaction {
    /// Query parameters whose values are secrets (OAuth tokens, codes, client secrets, passwords).
    static let secretParameters: Set<String> = [
        "access_token", "refresh_token", "id_token", "token", "code", "client_secret", "password", "assertion",
    ]

    /// Whether a query has a `NAME=` whose name could be secret: some `=` preceded by one of the names' last
    /// letters. A cheap filter: ``target(_:)`` checks the names exactly when it passes.
    private static func mayHoldSecret(_ query: Substring.UTF8View) -> Bool {
        var previous: UInt8 = 0
        for byte in query {
            if byte == UInt8(ascii: "="), Self.lastLetters.contains(previous | 0x20) { return true }
            previous = byte
        }
        return false
    }

    private static let lastLetters = Set(Self.secretParameters.compactMap { $0.utf8.last })

    /// `uri` with secret query values, and secret fragment parameters (an implicit grant's redirect
    /// `Location`: `#access_token=…`), replaced by `REDACTED`.
    static func target(_ uri: String) -> String {
        // Most targets have no query or fragment, or none with a secret: byte scans, no copy.
        guard
            let start = uri.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }),
            Self.mayHoldSecret(uri.utf8[start...])
        else { return uri }
        // Delimiters found byte by byte, as the upstream finds them: a `?` or `&` followed by a combining mark is
        // one Character with it, and a Character scan would miss the parameter after it.
        let hash = uri.utf8.firstIndex(of: UInt8(ascii: "#"))
        let beforeHash = uri[..<(hash ?? uri.endIndex)]
        var result = String(beforeHash)
        if let question = beforeHash.utf8.firstIndex(of: UInt8(ascii: "?")) {
            result = beforeHash[..<question] + "?" + self.masked(beforeHash[beforeHash.utf8.index(after: question)...])
        }
        if let hash { result += "#" + self.masked(uri[uri.utf8.index(after: hash)...]) }
        return result
    }

    /// `name=value&…` with the values of ``secretParameters`` replaced by `REDACTED`.
    private static func masked(_ pairs: Substring) -> String {
        pairs.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false).map { bytes -> String in
            let pair = Substring(bytes)
            guard let equals = pair.utf8.firstIndex(of: UInt8(ascii: "=")) else { return String(pair) }
            let name = pair[..<equals].lowercased()
            return self.secretParameters.contains(name) ? "\(pair[..<equals])=REDACTED" : String(pair)
        }
        .joined(separator: "&")
    }
}

extension Redaction {
    /// A header value as the inspector shows it: credentials as their scheme and last four characters
    /// (`Bearer …abcd`), cookie values and headers named like secrets replaced by `REDACTED`, URLs with their
    /// secret query values redacted.
    static func header(name: String, value: String) -> String {
        switch name.lowercased() {
        case "authorization", "proxy-authorization":
            return self.credential(value)
        case "cookie":
            return value.split(separator: ";").map { self.maskedPair($0) }.joined(separator: "; ")
        case "set-cookie":
            let parts = value.split(separator: ";", maxSplits: 1)
            return self.maskedPair(parts[0]) + (parts.count > 1 ? ";" + parts[1] : "")
        case "referer", "location", "content-location", "link":
            return self.target(value)
        case let lowercased where self.secretHeaderWords.contains(where: { lowercased.contains($0) }):
            return "REDACTED"
        default:
            return value
        }
    }

    /// Words that make a header name read as a secret's (`X-Api-Key`, `X-Auth-Token`).
    private static let secretHeaderWords = ["token", "secret", "api-key", "apikey", "password", "session"]

    /// `Bearer …abcd`: the scheme and the last four characters, and those only when the credential is long
    /// enough (12 characters) that they give nothing away.
    static func credential(_ value: String) -> String {
        let parts = value.split(separator: " ", maxSplits: 1)
        let (scheme, secret) = parts.count == 2 ? (parts[0] + " ", parts[1]) : ("", parts.first ?? "")
        return scheme + "…" + (secret.count >= 12 ? String(secret.suffix(4)) : "")
    }

    private static func maskedPair(_ pair: Substring) -> String {
        let trimmed = pair.drop { $0 == " " }
        guard let equals = trimmed.firstIndex(of: "=") else { return "REDACTED" }
        return trimmed[..<equals] + "=REDACTED"
    }
}

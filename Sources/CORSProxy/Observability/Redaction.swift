/// Keeps secrets out of logs: the proxy logs paths, never headers, and masks query values that carry tokens.
enum Redaction {
    /// Query parameters whose values are secrets (OAuth tokens, codes, client secrets, passwords).
    static let secretParameters: Set<String> = [
        "access_token", "refresh_token", "id_token", "token", "code", "client_secret", "password", "assertion",
    ]

    /// The request target with secret query values replaced by `REDACTED`.
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

    static func target(_ uri: String) -> String {
        // Most targets have no query, or none with a secret: byte scans, no copy.
        guard let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")), Self.mayHoldSecret(uri.utf8[question...])
        else { return uri }
        let query = uri[uri.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false)
        let masked = query.map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<equals].lowercased()
            return self.secretParameters.contains(name) ? "\(pair[..<equals])=REDACTED" : String(pair)
        }
        return uri[..<question] + "?" + masked.joined(separator: "&")
    }
}

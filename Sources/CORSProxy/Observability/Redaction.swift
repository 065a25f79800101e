/// Keeps secrets out of logs: the proxy logs paths, never headers, and masks query values that carry tokens.
enum Redaction {
    /// Query parameters whose values are secrets (OAuth tokens, codes, client secrets, passwords).
    static let secretParameters: Set<String> = [
        "access_token", "refresh_token", "id_token", "token", "code", "client_secret", "password", "assertion",
    ]

    /// The request target with secret query values replaced by `REDACTED`.
    static func target(_ uri: String) -> String {
        guard let question = uri.firstIndex(of: "?") else { return uri }
        let query = uri[uri.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false)
        let masked = query.map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<equals].lowercased()
            return self.secretParameters.contains(name) ? "\(pair[..<equals])=REDACTED" : String(pair)
        }
        return uri[..<question] + "?" + masked.joined(separator: "&")
    }
}

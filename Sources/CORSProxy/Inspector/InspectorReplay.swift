internal import NIOHTTP1

/// The commands that replay an exchange, for the inspector's copy buttons: curl with the request's headers, and
/// `corsproxy doctor` with what the page's script set. Secrets become placeholders: the credential is `$TOKEN`
/// (in double quotes, so the shell expands it), cookies are left out, secret query values read `REDACTED`.
struct InspectorReplay {
    var curl: String
    /// `nil` when the request reached no proxy URL (its `Host` was missing or refused).
    var doctor: String?

    /// Headers the browser sets itself, or that carry no meaning for a replay.
    private static let browserHeaders: Set<String> = [
        "host", "origin", "referer", "user-agent", "accept", "accept-encoding", "accept-language", "connection",
        "cookie", "content-length", "cache-control", "pragma", "dnt", "priority", "te", "upgrade-insecure-requests",
        "access-control-request-method", "access-control-request-headers", "access-control-request-private-network",
    ]

    init(_ record: ExchangeRecord) {
        let url = record.url
        let origin = record.cors.verdict.origin
        // What the page's script set: the request's own headers, or those a preflight announced.
        var scripted: [String] = []
        for (name, value) in record.requestHeaders {
            let lowercased = name.lowercased()
            guard !Self.browserHeaders.contains(lowercased), !lowercased.hasPrefix("sec-") else { continue }
            scripted.append(Self.header(name, value))
        }
        var curl = ["curl", "-i"]
        if record.method != "GET" { curl += ["-X", record.method] }
        curl.append(Self.quoted(url))
        if let origin { curl += ["-H", Self.quoted("Origin: " + origin)] }
        for (name, value) in record.requestHeaders where name.lowercased().hasPrefix("access-control-request-") {
            curl += ["-H", Self.quoted("\(name): \(value)")]
        }
        curl += scripted.flatMap { ["-H", $0] }
        self.curl = curl.joined(separator: " ")

        guard record.proxyBase != nil, let origin else {
            self.doctor = nil
            return
        }
        var doctor = ["corsproxy", "doctor", Self.quoted(url), "--origin", Self.quoted(origin)]
        if let preflight = record.preflightRequest {
            if preflight.method != "GET" { doctor += ["--method", Self.quoted(preflight.method)] }
            for name in preflight.headers {
                doctor += [
                    "-H",
                    name.lowercased() == "authorization" ? Self.header(name, "Bearer x") : Self.quoted("\(name): x"),
                ]
            }
        } else {
            if record.method != "GET" { doctor += ["--method", record.method] }
            doctor += scripted.flatMap { ["-H", $0] }
        }
        if record.requestHeaders.contains(name: "cookie") || record.cors.allowsCredentials {
            doctor.append("--credentials")
        }
        self.doctor = doctor.joined(separator: " ")
    }

    /// `-H` for one header: a credential as its scheme and `$TOKEN`, anything else as sent.
    private static func header(_ name: String, _ value: String) -> String {
        let lowercased = name.lowercased()
        if lowercased == "authorization" || lowercased == "proxy-authorization" {
            let scheme = value.split(separator: " ", maxSplits: 1).count == 2 ? value.prefix { $0 != " " } + " " : ""
            return "\"\(name): \(scheme)$TOKEN\""
        }
        return self.quoted("\(name): \(Redaction.header(name: name, value: value))")
    }

    /// `text` in single quotes for a POSIX shell.
    static func quoted(_ text: String) -> String {
        "'" + text.replacing("'", with: "'\\''") + "'"
    }
}

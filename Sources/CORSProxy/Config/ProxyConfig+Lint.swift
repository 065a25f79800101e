extension ProxyConfig {
    /// Legal settings that are probably mistakes: `corsproxy validate` prints them, `serve` prints them at start.
    /// Each names its key path and says what to do instead.
    public func lint() -> [ConfigIssue] {
        var warnings: [ConfigIssue] = []
        let cors = self.cors
        for (index, pattern) in cors.allowedOrigins.enumerated() {
            let path = "cors.allowedOrigins[\(index)]"
            if let warning = Self.lint(pattern) { warnings.append(ConfigIssue(path: path, message: warning)) }
            if pattern.scheme == "http", !pattern.isLoopback, !Self.isLoopback(self.listen.host) {
                warnings.append(
                    ConfigIssue(
                        path: path,
                        message:
                            "\"\(pattern.source)\" allows a plain-http origin on a proxy listening on \(self.listen.host): anyone on the network path can inject script into that origin and use the proxy with its users' tokens; prefer https"
                    )
                )
            }
        }
        if !cors.allowedHeaders.contains(where: { $0.lowercased() == "authorization" }) {
            warnings.append(
                ConfigIssue(
                    path: "cors.allowedHeaders",
                    message:
                        "Authorization is not listed, so browsers will refuse every request that sends a bearer token (a \"*\" never covers Authorization)"
                )
            )
        }
        if cors.allowCredentials {
            for (key, list) in [
                ("allowedMethods", cors.allowedMethods), ("allowedHeaders", cors.allowedHeaders),
                ("exposedHeaders", cors.exposedHeaders),
            ] {
                if let index = list.firstIndex(of: "*") {
                    warnings.append(
                        ConfigIssue(
                            path: "cors.\(key)[\(index)]",
                            message:
                                "with allowCredentials: true, browsers read \"*\" as a literal name, not a wildcard; list the names"
                        )
                    )
                }
            }
        }
        if cors.maxAge > 7200 {
            warnings.append(
                ConfigIssue(
                    path: "cors.maxAge",
                    message:
                        "\(cors.maxAge) s is above Chromium's cap of 7200 s (Firefox caps at 86400 s); Chromium will cache preflights for 2 h only"
                )
            )
        }
        if let admin = self.admin, !Self.isLoopback(admin.listen.host) {
            warnings.append(
                ConfigIssue(
                    path: "admin.listen",
                    message:
                        "\(admin.listen) is not a loopback address: anyone who reaches it reads the metrics, the config in force and the fault ledger (and, later, may reload the config); bind it to 127.0.0.1 or [::1] and scrape from the same host or through a tunnel"
                )
            )
        }
        return warnings
    }

    /// Why a pattern admits more than it seems to, if it does.
    static func lint(_ pattern: OriginPattern) -> String? {
        switch pattern.kind {
        case .any:
            return
                "\"*\" admits every origin on the web, including pages that will use your users' tokens; list the origins you serve"
        case .exact:
            return nil
        case .host(_, let host, let isWildcard, _):
            guard isWildcard else { return nil }
            if PublicSuffix.isPublicSuffix(host) {
                return
                    "\"\(pattern.source)\" spans the public suffix \"\(host)\": anyone can register a name under it; name your own domain (https://*.yourcompany.com)"
            }
            return nil
        case .regex(let box):
            let expression = box.source
            if ["", ".*", ".+", "^.*$", "^.+$", "(.*)"].contains(expression) || expression.hasPrefix(".*")
                || expression.hasPrefix("^.*")
            {
                return "\"\(pattern.source)\" matches almost any origin; anchor it to your scheme and domain"
            }
            if let unescaped = Self.unescapedDot(in: expression) {
                return
                    "\"\(pattern.source)\": the unescaped \".\" in \"\(unescaped)\" matches any character (\"appXexample.com\"); write \"\\\\.\""
            }
            if !expression.contains("://") {
                return
                    "\"\(pattern.source)\" does not spell out the scheme; origins are matched whole, as scheme://host[:port]"
            }
            return nil
        }
    }

    /// The first host fragment with a `.` that is neither escaped nor inside a character class.
    static func unescapedDot(in expression: String) -> String? {
        var previous: Character?
        var inClass = false
        var index = expression.startIndex
        while index < expression.endIndex {
            let character = expression[index]
            if previous == "\\" {
                previous = nil
            } else {
                if character == "[" { inClass = true }
                if character == "]" { inClass = false }
                if character == ".", !inClass {
                    let next = expression.index(after: index)
                    // `.` followed by a letter or digit is a host dot; `.*` / `.+` are deliberate wildcards.
                    if next < expression.endIndex, expression[next].isLetter || expression[next].isNumber {
                        let start = expression.index(
                            index,
                            offsetBy: -min(6, expression.distance(from: expression.startIndex, to: index))
                        )
                        let end = expression.index(
                            next,
                            offsetBy: min(6, expression.distance(from: next, to: expression.endIndex))
                        )
                        return String(expression[start..<end])
                    }
                }
                previous = character
            }
            index = expression.index(after: index)
        }
        return nil
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }
}

/// The public suffixes a wildcard origin pattern must not span: every single-label suffix (`com`, `dev`, …)
/// and the multi-tenant hosting suffixes where strangers get subdomains. Not the whole Public Suffix List, which
/// would need updating; these are the ones SPA developers meet.
enum PublicSuffix {
    static let shared: Set<String> = [
        "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp", "com.br",
        "com.cn", "com.mx", "co.in", "co.za", "com.tr",
        "github.io", "githubusercontent.com", "gitlab.io", "herokuapp.com", "netlify.app", "vercel.app", "pages.dev",
        "workers.dev", "web.app", "firebaseapp.com", "appspot.com", "azurewebsites.net", "cloudfront.net",
        "amazonaws.com", "s3.amazonaws.com", "onrender.com", "fly.dev", "glitch.me", "repl.co", "ngrok.io",
        "ngrok-free.app", "trycloudflare.com", "blogspot.com", "surge.sh", "codesandbox.io", "stackblitz.io",
    ]

    static func isPublicSuffix(_ host: String) -> Bool {
        if host.hasPrefix("[") { return false }
        if !host.contains(".") { return host != "localhost" }
        return self.shared.contains(host)
    }
}

extension OriginPattern {
    /// The scheme of an exact or host pattern.
    var scheme: String? {
        switch self.kind {
        case .exact(let origin): origin.scheme
        case .host(let scheme, _, _, _): scheme
        case .any, .regex: nil
        }
    }

    /// Whether the pattern only admits loopback hosts.
    var isLoopback: Bool {
        switch self.kind {
        case .exact(let origin): ProxyConfig.isLoopback(origin.host)
        case .host(_, let host, let isWildcard, _): !isWildcard && ProxyConfig.isLoopback(host)
        case .any, .regex: false
        }
    }
}

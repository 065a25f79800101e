internal import FoundationEssentials
public import NIOCore

/// What to change so that a blocked exchange passes: the header lines the failing answer must carry and, when the
/// server is corsproxy, the `proxy.json` change that makes it send them.
///
/// The headers are computed from the answer the browser judged, so they are a minimal diff: the one that failed
/// first, then any other the same answer also lacks (which would fail next). A corsproxy answer can say more
/// than the headers: `X-Corsproxy-Fault` marks a failure injected on purpose, and the JSON body of its own
/// refusals names the refusal (`origin_not_allowed`, `host_not_allowed`) and a hint.
extension BrowserModel {
    /// A concrete fix for one blocked verdict.
    public struct Fix: Sendable, Equatable {
        /// The header lines (`Name: value`) the failing answer must carry, the one that failed first.
        public var headers: [String]
        /// The `proxy.json` changes, when the server is corsproxy and a change helps.
        public var proxyConfig: [String]
        /// Anything else to change: the page's `fetch`, a server in front of the proxy.
        public var notes: [String]
        /// The whole fix in one line.
        public var summary: String
    }

    /// What is known about the server that answered.
    public struct Server: Sendable, Equatable {
        /// The URL's origin is corsproxy (it answers `GET /__corsproxy/healthz` with `ok`, or its answer carries
        /// `X-Corsproxy-Fault`).
        public var isCorsproxy: Bool
        /// `error` of corsproxy's JSON refusal (`origin_not_allowed`, `host_not_allowed`, …), if the answer is one.
        public var proxyError: String?
        /// `hint` of corsproxy's JSON refusal (the allowed origin the page's almost is).
        public var proxyHint: String?

        /// - Parameters:
        ///   - isCorsproxy: Whether the server is corsproxy.
        ///   - proxyError: The `error` code of corsproxy's JSON answer.
        ///   - proxyHint: The `hint` of corsproxy's JSON answer.
        public init(isCorsproxy: Bool, proxyError: String? = nil, proxyHint: String? = nil) {
            self.isCorsproxy = isCorsproxy
            self.proxyError = proxyError
            self.proxyHint = proxyHint
        }
    }

    /// The fault corsproxy injected into `response` (its `X-Corsproxy-Fault`), if any.
    public static func injectedFault(_ response: Response) -> String? {
        response.values("X-Corsproxy-Fault").first.map { $0.trimmingOWS() }
    }

    /// The fix for a blocked verdict; `nil` when the verdict is allowed.
    /// - Parameters:
    ///   - verdict: The browser's verdict on `response`.
    ///   - response: The answer that failed (the preflight's or the actual response).
    ///   - server: What is known about the server.
    public func fix(for verdict: Verdict, response: Response, server: Server) -> Fix? {
        guard let failure = verdict.failure else { return nil }
        let answer = verdict.isPreflight ? "the preflight answer (OPTIONS)" : "the response"
        let origin = self.request.origin
        var headers = self.missingHeaders(in: response, isPreflight: verdict.isPreflight)
        var config: [String] = []
        var notes: [String] = []
        var action: String?
        let corsproxy = server.isCorsproxy
        let addOrigin = "add \"\(origin)\" to cors.allowedOrigins"
        func first(_ name: String) {
            if let index = headers.firstIndex(where: { $0.hasPrefix(name + ":") }) {
                headers.insert(headers.remove(at: index), at: 0)
            }
        }
        switch failure {
        case .missingAllowOrigin, .allowOriginMismatch:
            first("Access-Control-Allow-Origin")
            if corsproxy { config.append(addOrigin) }
        case .multipleAllowOrigin:
            first("Access-Control-Allow-Origin")
            notes.append(
                corsproxy
                    ? "corsproxy drops the upstream's Access-Control-* headers and sends its own once: the other comes from a server in front of corsproxy (remove its add_header)"
                    : "send Access-Control-Allow-Origin once: two layers (the API and a proxy in front of it) each add one"
            )
        case .wildcardWithCredentials:
            first("Access-Control-Allow-Origin")
            if corsproxy { config += [addOrigin, "set cors.allowCredentials to true"] }
            notes.append(
                "or fetch without credentials: 'include' if the page sends only a bearer token (Authorization needs no credentials mode)"
            )
        case .allowCredentialsNotTrue:
            first("Access-Control-Allow-Credentials")
            if corsproxy { config.append("set cors.allowCredentials to true") }
            notes.append(
                "or fetch without credentials: 'include' if the page sends only a bearer token (Authorization needs no credentials mode)"
            )
        case .preflightStatus(let status):
            if corsproxy && server.proxyError == "host_not_allowed",
                let (_, host) = Self.schemeAndHost(of: self.request.url)
            {
                action = "corsproxy refused the request's Host \(host) with \(status)"
                config.append("add \"\(host)\" to allowedHosts")
            } else if status == 401 || status == 403 {
                action =
                    "answer the OPTIONS preflight with 204 (or 200) instead of \(status), before any authentication: a preflight never carries Authorization or cookies"
            } else {
                action =
                    "answer the OPTIONS preflight with 204 (or 200) instead of \(status): route OPTIONS on this path to the CORS handling"
            }
        case .preflightRedirect:
            // The redirect's own headers say nothing of the answer that replaces it: that one needs them all.
            headers = self.missingHeaders(in: Response(status: 204, headers: []), isPreflight: true)
            let location = response.values("Location").first.map { " (\($0))" } ?? ""
            action = "answer the preflight at this URL without a redirect: fetch the URL it redirects to\(location)"
            notes.append(
                "browsers never follow a redirect for a preflight (http→https, a trailing slash, another host)"
            )
            if corsproxy {
                notes.append(
                    "corsproxy answers preflights itself and never redirects them: the redirect comes from a server in front of it"
                )
            }
        case .methodNotAllowed(let method):
            first("Access-Control-Allow-Methods")
            if corsproxy { config.append("add \"\(method)\" to cors.allowedMethods") }
            let upper = method.uppercased()
            if upper != method {
                notes.append(
                    "or write \"\(upper)\" in the fetch: browsers upper-case only DELETE, GET, HEAD, OPTIONS, POST and PUT, and methods compare case-sensitively"
                )
            }
        case .headerNotAllowed(let name):
            first("Access-Control-Allow-Headers")
            if corsproxy { config.append("add \"\(self.displayName(name))\" to cors.allowedHeaders") }
            let listed = Self.list(response.values("Access-Control-Allow-Headers"))
            if listed.contains("*") {
                notes.append(
                    name == "authorization"
                        ? "'*' never covers Authorization: list it by name"
                        : "with credentials, '*' is the literal name \"*\", not a wildcard: list each header"
                )
            }
        case .privateNetworkNotAllowed:
            first("Access-Control-Allow-Private-Network")
            if corsproxy { config.append("set cors.allowPrivateNetwork to true") }
        }
        if corsproxy, server.proxyError == "origin_not_allowed", !config.contains(addOrigin) {
            config.insert(addOrigin, at: 0)
        }
        if let hint = server.proxyHint { notes.append("corsproxy: \(hint)") }
        if let fault = Self.injectedFault(response) {
            config = [
                "remove the \"\(fault)\" fault from routes[].faults, or drop the corsproxy-fault query parameter or X-Corsproxy-Fault request header"
            ]
            action =
                "nothing to fix in the server: corsproxy injected the \"\(fault)\" fault on purpose (X-Corsproxy-Fault: \(fault))"
            notes = ["without the fault, \(answer) carries the right headers"]
        }
        var parts: [String] = []
        if let action { parts.append(action) }
        // corsproxy answers a preflight correctly once its status is fixed; another server needs every line.
        let namesHeaders = !(corsproxy && (failure == .preflightRedirect || failure.isPreflightStatus))
        if !headers.isEmpty, Self.injectedFault(response) == nil, namesHeaders {
            // For corsproxy the config change makes it send the rest.
            let named = corsproxy && !config.isEmpty ? Array(headers.prefix(1)) : headers
            parts.append("\(answer) must carry " + named.map { "\"\($0)\"" }.joined(separator: " and "))
        }
        if !config.isEmpty { parts.append("proxy.json: " + config.joined(separator: ", and ")) }
        if parts.isEmpty || (config.isEmpty && action == nil) { parts += notes.prefix(1) }
        return Fix(headers: headers, proxyConfig: config, notes: notes, summary: parts.joined(separator: "; "))
    }

    /// The header lines `response` must carry for this fetch to pass at its stage and does not: the CORS check's
    /// (`Access-Control-Allow-Origin`, and `-Credentials` with credentials), then for a preflight the method,
    /// the headers and private network access; `Vary: Origin` beside an echoed origin on an actual response.
    func missingHeaders(in response: Response, isPreflight: Bool) -> [String] {
        let origin = self.request.origin
        let credentials = self.request.includesCredentials
        var lines: [String] = []
        let origins = response.values("Access-Control-Allow-Origin")
        let originPasses = origins == [origin] || (origins == ["*"] && !credentials)
        if !originPasses {
            lines.append("Access-Control-Allow-Origin: \(origin)")
            let vary = Self.list(response.values("Vary")).map { $0.lowercased() }
            if !isPreflight && !vary.contains("origin") && !vary.contains("*") { lines.append("Vary: Origin") }
        }
        if credentials && response.values("Access-Control-Allow-Credentials").first != "true" {
            lines.append("Access-Control-Allow-Credentials: true")
        }
        guard isPreflight else { return lines }
        let methods = Self.list(response.values("Access-Control-Allow-Methods"))
        let method = self.request.method
        let methodPasses =
            Self.safelistedMethods.contains(method) || methods.contains(method)
            || (!credentials && methods.contains("*"))
        if !methodPasses {
            lines.append(
                "Access-Control-Allow-Methods: " + (methods.filter { $0 != "*" } + [method]).joined(separator: ", ")
            )
        }
        let allowed = Self.list(response.values("Access-Control-Allow-Headers"))
        let lowered = Set(allowed.map { $0.lowercased() })
        let missing = self.unsafeHeaderNames.filter { name in
            !(lowered.contains(name) || (!credentials && lowered.contains("*") && name != "authorization"))
        }
        if !missing.isEmpty {
            let names = allowed.filter { $0 != "*" } + missing.map(self.displayName)
            lines.append("Access-Control-Allow-Headers: " + names.joined(separator: ", "))
        }
        if self.request.requestsPrivateNetwork
            && response.values("Access-Control-Allow-Private-Network").first != "true"
        {
            lines.append("Access-Control-Allow-Private-Network: true")
        }
        return lines
    }

    /// A lowercased request-header name as the script wrote it (`x-custom` → `X-Custom`), when it did.
    func displayName(_ lowercased: String) -> String {
        self.request.headers.first { $0.name.lowercased() == lowercased }?.name ?? lowercased
    }
}

extension BrowserModel {
    /// A fetch that got no response at all: the script gets `TypeError: Failed to fetch`, the console says why.
    public struct NetworkFailure: Sendable, Equatable {
        /// Chrome's `net::` error for it (`ERR_CONNECTION_REFUSED`).
        public var netError: String
        /// Chrome's console line: `METHOD URL net::ERR_…`.
        public var chromeMessage: String
        /// Firefox's console lines.
        public var firefoxMessages: [String]
        /// What to change.
        public var fix: String
    }

    /// What the browser reports for a transfer that failed before any response, and the fix.
    /// - Parameters:
    ///   - curlCode: libcurl's result code (``CurlError/code``).
    ///   - isPreflight: Whether the preflight failed (else the request itself).
    public func networkFailure(curlCode: Int, isPreflight: Bool) -> NetworkFailure {
        let target = Self.schemeAndHost(of: self.request.url).map { "\($0.scheme)://\($0.host)" } ?? self.request.url
        let (netError, fix): (String, String) =
            switch curlCode {
            case 6:
                ("ERR_NAME_NOT_RESOLVED", "the host name of \(target) does not resolve: check the URL (and /etc/hosts)")
            case 7:
                (
                    "ERR_CONNECTION_REFUSED",
                    "nothing accepts connections at the URL's host and port: start the server (corsproxy serve --config proxy.json prints the address it listens on) or correct the URL"
                )
            case 28:
                (
                    "ERR_TIMED_OUT",
                    "the server did not answer in time: check the host and port, a firewall, or what keeps the server busy"
                )
            case 35:
                (
                    "ERR_SSL_PROTOCOL_ERROR",
                    "the TLS handshake failed: is the server speaking https on this port (try http://)?"
                )
            case 60:
                (
                    "ERR_CERT_AUTHORITY_INVALID",
                    "the server's certificate is not trusted: use one the browser trusts (mkcert for localhost), or http://localhost for local development"
                )
            case 52: ("ERR_EMPTY_RESPONSE", "the server closed the connection without answering: check its logs")
            case 55, 56: ("ERR_CONNECTION_RESET", "the connection was reset before an answer: check the server's logs")
            case 8: ("ERR_INVALID_HTTP_RESPONSE", "the server's answer is not HTTP: is this the right port?")
            default: ("ERR_FAILED", "no response: check the URL and that the server is running")
            }
        let stage = isPreflight ? " (the preflight failed, so the request was never sent)" : ""
        return NetworkFailure(
            netError: netError,
            chromeMessage: "\(self.request.method) \(self.request.url) net::\(netError)",
            firefoxMessages: [
                "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at \(self.request.url). (Reason: CORS request did not succeed). Status code: (null)."
            ],
            fix: fix + stage
        )
    }
}

extension BrowserModel.Server {
    /// The path corsproxy answers itself on every listener, whatever the routes: `200` with the body `ok`.
    public static let healthPath = "/__corsproxy/healthz"

    /// Whether an answer to `GET` ``healthPath`` is corsproxy's.
    /// - Parameters:
    ///   - status: The answer's status.
    ///   - body: Its body.
    public static func isHealthAnswer(status: Int, body: ByteBuffer) -> Bool {
        status == 200 && String(buffer: body).split(whereSeparator: { $0.isWhitespace }) == ["ok"]
    }

    /// The server as corsproxy, with the `error` and `hint` of its JSON refusal when `body` is one
    /// (`{"error": "origin_not_allowed", "message": …, "hint": …}`).
    /// - Parameter body: The body of the answer that failed.
    public init(corsproxyAnswer body: ByteBuffer) {
        struct Refusal: Decodable {
            var error: String?
            var hint: String?
        }
        let refusal = try? JSONDecoder().decode(Refusal.self, from: Data(body.readableBytesView))
        self.init(isCorsproxy: true, proxyError: refusal?.error, proxyHint: refusal?.hint)
    }
}

extension BrowserModel.Failure {
    /// Whether this is ``preflightStatus(_:)``.
    var isPreflightStatus: Bool {
        if case .preflightStatus = self { return true }
        return false
    }
}

import CORSProxy
import CurlBridge

/// One `corsproxy doctor` run: what was sent and what came back, the verdict, the fix and the Local Network
/// Access prediction; printed as text lines for people or as one JSON object for scripts.
///
/// Nothing here does I/O: ``Doctor`` fills it in as the exchange goes. No `Authorization` (nor cookie) value is
/// ever printed: ``redacted(name:value:)`` masks it in every header list.
struct DoctorReport {
    /// One request the browser sends, and the answer it got.
    struct Exchange {
        var method: String
        var headers: [(name: String, value: String)]
        /// Why the browser sends it (a preflight's reasons).
        var reasons: [String] = []
        /// `nil` when the transfer failed.
        var response: BrowserModel.Response?
    }

    /// How the run ended.
    enum Outcome {
        case allowed(BrowserModel.Response)
        case blocked(BrowserModel.Verdict, BrowserModel.Response)
        /// No response to the preflight (`isPreflight`) or to the request.
        case error(CurlError, isPreflight: Bool)
    }

    let model: BrowserModel
    var localNetworkAccess: BrowserModel.LocalNetworkAccess?
    /// The preflight, when one was needed.
    var preflight: Exchange?
    /// The browser's verdict on the preflight's answer, once judged.
    var preflightVerdict: BrowserModel.Verdict?
    /// The request itself, when it was sent.
    var actual: Exchange?
    /// Set once the run ends.
    var outcome: Outcome?
    /// What is known about the server, for a blocked verdict.
    var server: BrowserModel.Server?
    /// What showed the server to be corsproxy.
    var corsproxySignal: String?
    var fix: BrowserModel.Fix?

    /// - Parameter model: The fetch being diagnosed.
    init(model: BrowserModel) {
        self.model = model
    }

    /// 0 allowed, 1 blocked, 2 error.
    var exitStatus: Int32 {
        switch self.outcome {
        case .allowed: 0
        case .blocked: 1
        case .error, nil: 2
        }
    }

    /// A header value safe to print: an `Authorization` bearer token as `Bearer …` and its last four characters
    /// (long tokens only), any other credential as `REDACTED`.
    static func redacted(name: String, value: String) -> String {
        switch name.lowercased() {
        case "authorization", "proxy-authorization":
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", parts[1].count >= 16 {
                return "Bearer …" + parts[1].suffix(4)
            }
            return "REDACTED"
        case "cookie", "set-cookie":
            return "REDACTED"
        default:
            return value
        }
    }

    // MARK: The verdict's parts

    private var verdictName: String {
        switch self.outcome {
        case .allowed: "allowed"
        case .blocked: "blocked"
        case .error, nil: "error"
        }
    }

    /// Where the verdict was decided; `nil` for an error before any response.
    private var stage: String? {
        switch self.outcome {
        case .allowed, nil: self.actual?.response == nil ? nil : "actual"
        case .blocked(let verdict, _): verdict.isPreflight ? "preflight" : "actual"
        case .error(_, let isPreflight): isPreflight || self.preflight == nil ? nil : "actual"
        }
    }

    private var rule: String? {
        switch self.outcome {
        case .allowed, nil: nil
        case .blocked(let verdict, _): verdict.failure.map(self.model.explanation)
        case .error(let error, _):
            "no response (\(error)): the browser gives the script \"TypeError: Failed to fetch\" and no status"
        }
    }

    private var networkFailure: BrowserModel.NetworkFailure? {
        guard case .error(let error, let isPreflight) = self.outcome else { return nil }
        return self.model.networkFailure(curlCode: error.code, isPreflight: isPreflight)
    }

    private var chrome: String? {
        switch self.outcome {
        case .allowed, nil: nil
        case .blocked(let verdict, _): self.model.chromeMessage(verdict)
        case .error: self.networkFailure?.chromeMessage
        }
    }

    private var firefox: [String] {
        switch self.outcome {
        case .allowed:
            // Firefox may warn about a preflight answer it accepts.
            if let verdict = self.preflightVerdict, let status = self.preflight?.response?.status {
                self.model.firefoxMessages(verdict, status: status)
            } else {
                []
            }
        case nil: []
        case .blocked(let verdict, let response): self.model.firefoxMessages(verdict, status: response.status)
        case .error: self.networkFailure?.firefoxMessages ?? []
        }
    }

    private var fixSummary: String? {
        if case .error = self.outcome { return self.networkFailure?.fix }
        return self.fix?.summary
    }

    /// The `Access-Control-Expose-Headers` names of an allowed response.
    private var exposedHeaders: [String] {
        guard case .allowed(let response) = self.outcome else { return [] }
        return BrowserModel.list(
            response.headers.filter { $0.name.lowercased() == "access-control-expose-headers" }.map(\.value)
        )
    }

    // MARK: Text

    /// The report as the lines `corsproxy doctor` prints.
    var textLines: [String] {
        let pad = "           "
        let request = self.model.request
        var lines = [
            "request:   \(request.method) \(request.url)",
            "origin:    \(request.origin), credentials: \(request.includesCredentials ? "include" : "same-origin")",
        ]
        if let access = self.localNetworkAccess { lines.append("LNA:       \(access.message)") }
        if let preflight = self.preflight {
            lines.append("preflight: needed (\(preflight.reasons.joined(separator: "; ")))")
            if let response = preflight.response {
                lines += Self.show(response, prefix: pad)
                if self.actual != nil { lines.append(pad + "preflight passes") }
            }
        } else {
            lines.append(
                "preflight: not needed (a simple request: GET, HEAD or POST with CORS-safelisted headers only)"
            )
        }
        if let response = self.actual?.response {
            lines.append("request:   sent")
            lines += Self.show(response, prefix: pad)
        }
        switch self.outcome {
        case .allowed(let response):
            lines.append("verdict:   ALLOWED: JavaScript can read the response (status \(response.status))")
            if !self.exposedHeaders.isEmpty {
                lines.append(
                    "\(pad)and, beyond the safelisted response headers, \(self.exposedHeaders.joined(separator: ", "))"
                )
            }
            if !self.firefox.isEmpty { lines += self.firefoxLines }
        case .blocked(let verdict, _):
            let failure = verdict.failure.map(self.model.explanation) ?? ""
            lines.append("verdict:   BLOCKED at the \(verdict.isPreflight ? "preflight" : "response"): \(failure)")
            lines.append("Chrome:    \(self.chrome ?? "")")
            lines += self.firefoxLines
            lines.append("fix:       \(self.fixSummary ?? "")")
        case .error(let error, _):
            lines.append("error:     \(error)")
            lines.append("verdict:   ERROR: no response; a browser reports \"TypeError: Failed to fetch\"")
            lines.append("Chrome:    \(self.chrome ?? "")")
            lines += self.firefoxLines
            lines.append("fix:       \(self.fixSummary ?? "")")
        case nil:
            break
        }
        return lines
    }

    private var firefoxLines: [String] {
        let messages = self.firefox
        guard let first = messages.first else {
            return ["Firefox:   (no message: Firefox does not block this; it never implemented Private Network Access)"]
        }
        return ["Firefox:   \(first)"] + messages.dropFirst().map { "           \($0)" }
    }

    private static func show(_ response: BrowserModel.Response, prefix: String) -> [String] {
        ["\(prefix)← \(response.status)"]
            + response.headers.filter {
                $0.name.lowercased().hasPrefix("access-control-") || $0.name.lowercased() == "vary"
            }
            .map { "\(prefix)  \($0.name): \(Self.redacted(name: $0.name, value: $0.value))" }
    }

    // MARK: JSON

    /// The report as one JSON object: the verdict's fields first, then the exchanged headers.
    var json: JSONOutput {
        let request = self.model.request
        return .object([
            ("verdict", .string(self.verdictName)),
            ("stage", .optional(self.stage)),
            ("rule", .optional(self.rule)),
            ("chrome", .optional(self.chrome)),
            ("firefox", .array(self.firefox.map { .string($0) })),
            ("fix", .optional(self.fixSummary)),
            ("fixDetails", self.fixDetailsJSON),
            ("server", self.serverJSON),
            ("localNetworkAccess", self.localNetworkAccessJSON),
            (
                "request",
                .object([
                    ("method", .string(request.method)),
                    ("url", .string(request.url)),
                    ("origin", .string(request.origin)),
                    ("credentials", .string(request.includesCredentials ? "include" : "same-origin")),
                    ("headers", Self.headersJSON(request.headers)),
                ])
            ),
            ("preflight", self.preflight.map { self.exchangeJSON($0, reasons: true) } ?? .null),
            ("actual", self.actual.map { self.exchangeJSON($0, reasons: false) } ?? .null),
            ("exposedHeaders", .array(self.exposedHeaders.map { .string($0) })),
            ("error", self.errorJSON),
        ])
    }

    private var fixDetailsJSON: JSONOutput {
        guard let fix = self.fix else { return .null }
        return .object([
            ("headers", .array(fix.headers.map { .string($0) })),
            ("proxyConfig", .array(fix.proxyConfig.map { .string($0) })),
            ("notes", .array(fix.notes.map { .string($0) })),
        ])
    }

    private var serverJSON: JSONOutput {
        guard let server = self.server else { return .null }
        return .object([
            ("corsproxy", .bool(server.isCorsproxy)),
            ("detectedBy", .optional(self.corsproxySignal)),
            ("proxyError", .optional(server.proxyError)),
        ])
    }

    private var localNetworkAccessJSON: JSONOutput {
        guard let access = self.localNetworkAccess else { return .null }
        let pageHost = Origin(self.model.request.origin)?.host ?? ""
        let targetHost = BrowserModel.schemeAndHost(of: self.model.request.url)?.host ?? ""
        return .object([
            ("chromeVersions", .string(">= 142")),
            ("outcome", .string(access.outcome.rawValue)),
            (
                "page",
                .object([
                    ("host", .string(pageHost)), ("address", .string(access.pageAddress)),
                    ("addressSpace", .string(access.pageSpace.rawValue)),
                ])
            ),
            (
                "target",
                .object([
                    ("host", .string(targetHost)), ("address", .string(access.targetAddress)),
                    ("addressSpace", .string(access.targetSpace.rawValue)),
                ])
            ),
            ("message", .string(access.message)),
            ("chrome", .string(access.chromeMessage)),
        ])
    }

    private var errorJSON: JSONOutput {
        guard case .error(let error, let isPreflight) = self.outcome, let failure = self.networkFailure else {
            return .null
        }
        return .object([
            ("request", .string(isPreflight ? "preflight" : "actual")),
            ("curlCode", .number(error.code)),
            ("message", .string(error.message)),
            ("netError", .string(failure.netError)),
        ])
    }

    private func exchangeJSON(_ exchange: Exchange, reasons: Bool) -> JSONOutput {
        var members: [(String, JSONOutput)] = []
        if reasons { members.append(("reasons", .array(exchange.reasons.map { .string($0) }))) }
        members.append(
            (
                "request",
                .object([
                    ("method", .string(exchange.method)),
                    ("url", .string(self.model.request.url)),
                    ("headers", Self.headersJSON(exchange.headers)),
                ])
            )
        )
        let response: JSONOutput =
            exchange.response.map {
                .object([("status", .number($0.status)), ("headers", Self.headersJSON($0.headers))])
            } ?? .null
        members.append(("response", response))
        return .object(members)
    }

    private static func headersJSON(_ headers: [(name: String, value: String)]) -> JSONOutput {
        .array(
            headers.map {
                .object([("name", .string($0.name)), ("value", .string(Self.redacted(name: $0.name, value: $0.value)))])
            }
        )
    }
}

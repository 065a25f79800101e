import NIOHTTP1

@testable import CORSProxy

/// A preflight from an allowed origin as the proxy answers it: the `Access-Control-*` lines its ``CORSOutcome``
/// writes, the policy's refusal, and the reason Chrome gives when it runs on those lines (what the log line says).
struct PreflightProbe {
    var headers: [(name: String, value: String)]
    var refusal: String?
    /// Chrome's reason after `Response to preflight request doesn't pass access control check: `.
    var chromeReason: String?

    init(policy: CORSPolicy, origin: String, method: String, requestHeaders: [String], privateNetwork: Bool) {
        var head = HTTPRequestHead(version: .http1_1, method: .OPTIONS, uri: "/x")
        head.headers.add(name: "Origin", value: origin)
        head.headers.add(name: "Access-Control-Request-Method", value: method)
        for line in requestHeaders { head.headers.add(name: "Access-Control-Request-Headers", value: line) }
        if privateNetwork { head.headers.add(name: "Access-Control-Request-Private-Network", value: "true") }
        let outcome = CORSOutcome(
            head: head,
            verdict: policy.judge(origin: origin),
            policy: policy,
            headers: CORSOutcome.Headers(policy: policy)
        )
        self.headers = outcome.lines(for: .preflight)
        self.refusal = outcome.preflightRefusal?.description
        let model = BrowserModel(
            request: .init(
                preflightTo: "http://proxy/x",
                origin: origin,
                method: method,
                listedHeaders: BrowserModel.list(requestHeaders).map { $0.lowercased() },
                includesCredentials: policy.configuration.allowCredentials,
                requestsPrivateNetwork: privateNetwork
            )
        )
        let verdict = model.judgePreflight(BrowserModel.Response(status: 204, headers: self.headers))
        let prefix = "Access to fetch at 'http://proxy/x' from origin '\(origin)' has been blocked by CORS policy: "
        let stage = "Response to preflight request doesn't pass access control check: "
        self.chromeReason = model.chromeMessage(verdict).map { message in
            let reason = message.dropFirst(prefix.count)
            return String(reason.hasPrefix(stage) ? reason.dropFirst(stage.count) : reason)
        }
    }
}

extension CORSPolicy {
    /// The proxy's answer to a preflight from `origin` (an allowed one).
    func preflight(origin: String, method: String, requestHeaders: [String], privateNetwork: Bool) -> PreflightProbe {
        PreflightProbe(
            policy: self,
            origin: origin,
            method: method,
            requestHeaders: requestHeaders,
            privateNetwork: privateNetwork
        )
    }

    /// The `Access-Control-*` lines of an actual response to `origin`.
    func responseHeaders(origin: String) -> [(name: String, value: String)] {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x")
        head.headers.add(name: "Origin", value: origin)
        return CORSOutcome(head: head, verdict: self.judge(origin: origin), policy: self, headers: .init(policy: self))
            .lines(for: .relayed)
    }
}

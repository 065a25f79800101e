internal import NIOCore
internal import NIOHTTP1

/// What CORS makes of one exchange, decided once from the policy when its head arrives — and the one writer of
/// `Access-Control-*` headers and `Vary`, for every answer the exchange can get: the preflight answer, the
/// proxy's own answers (errors, health) and a relayed upstream response.
///
/// Nothing else in the proxy writes those headers, so what the browser is sent and what the log line predicts
/// about it (``ExchangeRecord/browserVerdict``, from the lines ``write(_:upstreamVary:into:)`` returns) cannot
/// disagree.
///
/// An immutable class: the exchange, its plan and its record share one instance, where copying the struct it was
/// retained each of its fields, four times per request.
final class CORSOutcome: Sendable {
    /// Which CORS request this is.
    enum Stage: Sendable, Equatable {
        /// No `Origin`: not a CORS request (curl, server-side calls).
        case none
        /// A CORS request the browser lets through only with the right response headers.
        case actual
        /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`: the proxy answers it itself.
        case preflight
    }

    /// What the exchange's answers do with the verdict.
    enum Disposition: Sendable, Equatable {
        /// Carry the headers an allowed origin gets.
        case emit
        /// Carry none (no `Origin`, or a refused one with `disallowedOrigin: "omit-headers"`).
        case omit
        /// Refuse the request with 403 (a refused origin with `disallowedOrigin: "reject"`).
        case reject
    }

    /// The kind of answer being written.
    enum Answer {
        /// The proxy's answer to a preflight (the 204, or the 403 that rejects its origin).
        case preflight
        /// The proxy's own answer to anything else (an error, the health check).
        case local
        /// The proxy's refusal under one of its limits (429 with `Retry-After`): a local answer that also exposes
        /// `Retry-After`, so the page can read when to try again.
        case limited
        /// The upstream's response, relayed.
        case relayed
    }

    /// The header values that do not depend on the request, computed once per config snapshot.
    final class Headers: Sendable {
        /// A preflight answer's lines after `Access-Control-Allow-Origin`.
        let preflight: [(name: String, value: String)]
        /// An actual response's lines after `Access-Control-Allow-Origin`.
        let actual: [(name: String, value: String)]
        /// ``actual`` with `Retry-After` among the exposed headers.
        let limited: [(name: String, value: String)]
        /// `Vary` of a preflight answer: everything the answer depends on.
        let preflightVary: String
        /// ``preflight`` and the preflight's `Vary`, serialized: what follows `Access-Control-Allow-Origin` in a
        /// preflight answer without a fault, written as one block.
        let preflightBlock: ByteBuffer
        /// ``actual`` serialized.
        let actualBlock: ByteBuffer
        /// ``limited`` serialized.
        let limitedBlock: ByteBuffer
        let allowsPrivateNetwork: Bool
        let allowsCredentials: Bool

        /// - Parameter policy: The policy whose lists the headers carry.
        init(policy: CORSPolicy) {
            let cors = policy.configuration
            var preflight: [(name: String, value: String)] = []
            var actual: [(name: String, value: String)] = []
            if cors.allowCredentials {
                preflight.append(("Access-Control-Allow-Credentials", "true"))
                actual.append(("Access-Control-Allow-Credentials", "true"))
            }
            preflight.append(("Access-Control-Allow-Methods", policy.allowMethodsValue))
            if !policy.allowHeadersValue.isEmpty {
                preflight.append(("Access-Control-Allow-Headers", policy.allowHeadersValue))
            }
            preflight.append(("Access-Control-Max-Age", String(cors.maxAge)))
            var limited = actual
            if let expose = policy.exposeHeadersValue {
                actual.append(("Access-Control-Expose-Headers", expose))
            }
            let exposesRetryAfter = cors.exposedHeaders.contains { ASCII.equalsIgnoringCase($0, "retry-after") }
            limited.append(
                (
                    "Access-Control-Expose-Headers",
                    exposesRetryAfter
                        ? policy.exposeHeadersValue ?? ""
                        : (cors.exposedHeaders + ["Retry-After"]).joined(separator: ", ")
                )
            )
            var vary = ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]
            if cors.allowPrivateNetwork { vary.append("Access-Control-Request-Private-Network") }
            self.preflight = preflight
            self.actual = actual
            self.limited = limited
            self.preflightVary = vary.joined(separator: ", ")
            self.preflightBlock = Self.serialize(preflight + [("Vary", self.preflightVary)])
            self.actualBlock = Self.serialize(actual)
            self.limitedBlock = Self.serialize(limited)
            self.allowsPrivateNetwork = cors.allowPrivateNetwork
            self.allowsCredentials = cors.allowCredentials
        }

        private static func serialize(_ lines: [(name: String, value: String)]) -> ByteBuffer {
            var block = ByteBuffer()
            for line in lines { block.writeHeader(line.name, line.value) }
            return block
        }
    }

    /// The `Access-Control-*` lines an answer carried, kept as they were written: the request's origin and one of
    /// the precomputed lists ``Headers`` shares, so recording them for the exchange copies nothing.
    struct SentLines: Sendable, ExpressibleByArrayLiteral {
        private let allowOrigin: String?
        private let rest: [(name: String, value: String)]

        /// The lines, in the order sent.
        var all: [(name: String, value: String)] {
            guard let allowOrigin else { return self.rest }
            return [("Access-Control-Allow-Origin", allowOrigin)] + self.rest
        }

        init(_ lines: [(name: String, value: String)]) {
            self.allowOrigin = nil
            self.rest = lines
        }

        init(arrayLiteral lines: (name: String, value: String)...) {
            self.init(lines)
        }

        fileprivate init(allowOrigin: String, then rest: [(name: String, value: String)]) {
            self.allowOrigin = allowOrigin
            self.rest = rest
        }
    }

    /// Why enforcing the policy would block an exchange that report-only mode serves.
    enum WouldBlock: String, Sendable {
        case originNotAllowed = "origin-not-allowed"
        case methodNotAllowed = "method-not-allowed"
        case headerNotAllowed = "header-not-allowed"
        case privateNetworkNotAllowed = "private-network-not-allowed"

        init(_ refusal: CORSPolicy.PreflightRefusal) {
            switch refusal {
            case .method: self = .methodNotAllowed
            case .header: self = .headerNotAllowed
            case .privateNetwork: self = .privateNetworkNotAllowed
            }
        }
    }

    let verdict: CORSPolicy.OriginVerdict
    let stage: Stage
    let disposition: Disposition
    /// Why the policy refuses a preflight from an allowed origin; its answer still carries the allowed lists, and
    /// the browser refuses the actual request.
    let preflightRefusal: CORSPolicy.PreflightRefusal?
    /// The preflight carries `Access-Control-Request-Private-Network: true`.
    let requestsPrivateNetwork: Bool
    /// A preflight's `Access-Control-Request-Method` and `Access-Control-Request-Headers` values.
    let preflightRequest: (method: String, headers: [String])?
    /// In report-only mode: what enforcing the policy would have refused, which this exchange is served anyway.
    let wouldBlock: WouldBlock?
    /// The failure injected into this exchange's answers.
    let fault: Fault?
    let headers: Headers

    /// - Parameters:
    ///   - head: The request head.
    ///   - verdict: The policy's verdict on its `Origin`.
    ///   - policy: The policy of the exchange's config snapshot.
    ///   - headers: The snapshot's precomputed header values.
    ///   - faults: The snapshot's injector, the rules of the request's route and its `Origin` parsed (`nil` when
    ///     absent or malformed), when faults are configured.
    init(
        head: HTTPRequestHead,
        verdict: CORSPolicy.OriginVerdict,
        policy: CORSPolicy,
        headers: Headers,
        faults: (injector: FaultInjector, rules: [ProxyConfig.FaultRule], origin: Origin?)? = nil
    ) {
        self.verdict = verdict
        self.headers = headers
        let isReportOnly = policy.configuration.mode == .reportOnly
        var wouldBlock: WouldBlock?
        switch verdict {
        case .absent:
            self.disposition = .omit
        case .allowed:
            self.disposition = .emit
        case .refused(let origin, _) where isReportOnly && Origin(origin) != nil:
            self.disposition = .emit
            wouldBlock = .originNotAllowed
        case .refused:
            self.disposition = policy.configuration.disallowedOrigin == .reject ? .reject : .omit
        }
        let requestMethod = head.method == .OPTIONS ? head.headers.first(name: "access-control-request-method") : nil
        if verdict == .absent {
            self.stage = .none
            self.preflightRequest = nil
            self.requestsPrivateNetwork = false
            self.preflightRefusal = nil
        } else if let requestMethod {
            self.stage = .preflight
            let requested = (requestMethod, head.headers["access-control-request-headers"])
            self.preflightRequest = requested
            let privateNetwork =
                head.headers.first(name: "access-control-request-private-network").map {
                    ASCII.equalsIgnoringCase($0, "true")
                } ?? false
            self.requestsPrivateNetwork = privateNetwork
            self.preflightRefusal =
                self.disposition == .emit && wouldBlock == nil
                ? policy.judgePreflight(
                    method: requested.0,
                    requestHeaders: requested.1,
                    privateNetwork: privateNetwork
                )
                : nil
            if isReportOnly, let refusal = self.preflightRefusal { wouldBlock = WouldBlock(refusal) }
        } else {
            self.stage = .actual
            self.preflightRequest = nil
            self.requestsPrivateNetwork = false
            self.preflightRefusal = nil
        }
        self.wouldBlock = wouldBlock
        if let faults {
            self.fault = Self.chooseFault(
                head: head,
                stage: self.stage,
                disposition: self.disposition,
                preflightRequest: self.preflightRequest,
                requestsPrivateNetwork: self.requestsPrivateNetwork,
                headers: headers,
                injector: faults.injector,
                rules: faults.rules,
                origin: faults.origin
            )
        } else {
            self.fault = nil
        }
    }

    /// `cors.allowCredentials`: browsers then fetch with credentials, so `*` in the lists is a literal name.
    var allowsCredentials: Bool { self.headers.allowsCredentials }

    private init(withoutRequest headers: Headers) {
        self.verdict = .absent
        self.stage = .none
        self.disposition = .omit
        self.preflightRefusal = nil
        self.requestsPrivateNetwork = false
        self.preflightRequest = nil
        self.wouldBlock = nil
        self.fault = nil
        self.headers = headers
    }

    /// The outcome of an answer with no request head to judge (the head could not be parsed): no CORS headers,
    /// `Vary: Origin`.
    static func withoutRequest(headers: Headers) -> CORSOutcome {
        CORSOutcome(withoutRequest: headers)
    }

    /// The `Access-Control-*` lines `answer` carries, with the exchange's fault applied.
    /// - Parameter enforced: The lines enforcing the policy would send, without report-only's widening or a fault:
    ///   what the browser would have judged.
    func lines(for answer: Answer, enforced: Bool = false) -> [(name: String, value: String)] {
        guard self.disposition == .emit, let origin = self.verdict.origin else { return [] }
        if enforced && self.wouldBlock == .originNotAllowed { return [] }
        if !enforced && self.fault == .errorWithoutCORS { return [] }
        var lines = [(name: "Access-Control-Allow-Origin", value: origin)]
        switch answer {
        case .preflight:
            lines.reserveCapacity(self.headers.preflight.count + 2)
            lines += self.headers.preflight
            let isWidened = !enforced && self.wouldBlock != nil
            if self.requestsPrivateNetwork && (self.headers.allowsPrivateNetwork || isWidened) {
                lines.append(("Access-Control-Allow-Private-Network", "true"))
            }
            if isWidened, let request = self.preflightRequest { Self.widen(&lines, toAllow: request) }
        case .local, .relayed:
            lines.reserveCapacity(self.headers.actual.count + 1)
            lines += self.headers.actual
        case .limited:
            lines += self.headers.limited
        }
        if !enforced, let fault = self.fault { self.apply(fault, to: &lines, answer: answer) }
        return lines
    }

    /// Writes the `Access-Control-*` lines and `Vary` of `answer` into a response head.
    /// - Parameters:
    ///   - answer: The kind of answer.
    ///   - upstreamVary: The upstream's `Vary` values, for a relayed response.
    ///   - buffer: The head being serialized.
    /// - Returns: The `Access-Control-*` lines written, for the exchange's record.
    @discardableResult
    func write(
        _ answer: Answer,
        upstreamVary: [String] = [],
        into buffer: inout ByteBuffer
    ) -> SentLines {
        // An allowed origin's answer without a fault or report-only's widening: the origin, then the config's
        // precomputed block.
        if self.disposition == .emit, self.fault == nil, self.wouldBlock == nil, let origin = self.verdict.origin,
            answer != .preflight || !self.requestsPrivateNetwork
        {
            buffer.writeHeader("Access-Control-Allow-Origin", origin)
            let (block, rest) =
                switch answer {
                case .preflight: (self.headers.preflightBlock, self.headers.preflight)
                case .local, .relayed: (self.headers.actualBlock, self.headers.actual)
                case .limited: (self.headers.limitedBlock, self.headers.limited)
                }
            buffer.writeImmutableBuffer(block)
            // A preflight's `Vary` is in its block.
            if answer != .preflight { self.writeVary(answer, upstream: upstreamVary, into: &buffer) }
            return SentLines(allowOrigin: origin, then: rest)
        }
        let lines = self.lines(for: answer)
        for line in lines { buffer.writeHeader(line.name, line.value) }
        if let fault = self.fault { buffer.writeHeader("X-Corsproxy-Fault", fault.kind) }
        self.writeVary(answer, upstream: upstreamVary, into: &buffer)
        return SentLines(lines)
    }

    /// Writes the `Vary` line of `answer`: `Origin` on every answer (requests without `Origin` and refusals
    /// included, so a cache never serves one origin's answer to another), merged with the upstream's own for a
    /// relayed response (``writeRelayedVary(_:into:)``); everything a preflight answer depends on for a preflight.
    private func writeVary(_ answer: Answer, upstream: [String], into buffer: inout ByteBuffer) {
        switch answer {
        case .preflight:
            buffer.writeHeader("Vary", self.headers.preflightVary)
        case .relayed where !upstream.isEmpty:
            Self.writeRelayedVary(upstream, into: &buffer)
        case .relayed, .local, .limited:
            buffer.writeStaticString("Vary: Origin\r\n")
        }
    }

    /// `Vary` for a relayed response with the upstream's values: kept in their order, `Origin` added unless one of
    /// them is it (ignoring case), and `*` alone when one of them is `*`.
    static func writeRelayedVary(_ upstream: [String], into buffer: inout ByteBuffer) {
        guard !upstream.contains("*") else {
            buffer.writeStaticString("Vary: *\r\n")
            return
        }
        buffer.writeStaticString("Vary: ")
        for (index, value) in upstream.enumerated() {
            if index > 0 { buffer.writeStaticString(", ") }
            buffer.writeString(value)
        }
        if !upstream.contains(where: { ASCII.equalsIgnoringCase($0, "origin") }) {
            buffer.writeStaticString(upstream.isEmpty ? "Origin" : ", Origin")
        }
        buffer.writeStaticString("\r\n")
    }
}

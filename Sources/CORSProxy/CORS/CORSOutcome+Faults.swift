internal import NIOHTTP1

/// How an injected ``Fault`` and report-only mode change the lines ``CORSOutcome`` writes.
extension CORSOutcome {
    /// The fault the request names itself, else the first matching rule's (after its draw); only one that can
    /// change this exchange: its stage, an origin that gets CORS headers where the fault is about them, and what
    /// the request asks for (a method the browser checks, requested headers, private network access).
    static func chooseFault(
        head: HTTPRequestHead,
        stage: Stage,
        disposition: Disposition,
        preflightRequest: (method: String, headers: [String])?,
        requestsPrivateNetwork: Bool,
        headers: Headers,
        injector: FaultInjector,
        rules: [ProxyConfig.FaultRule],
        origin: Origin?
    ) -> Fault? {
        func applies(_ fault: Fault) -> Bool {
            switch fault.stage {
            case .actual where stage == .preflight, .preflight where stage != .preflight: return false
            default: break
            }
            if fault.needsAllowedOrigin && disposition != .emit { return false }
            switch fault {
            case .methodNotAllowed:
                return preflightRequest.map { !BrowserModel.safelistedMethods.contains($0.method) } ?? false
            case .headerNotAllowed:
                return !BrowserModel.list(preflightRequest?.headers ?? []).isEmpty
            case .privateNetworkMissing:
                return requestsPrivateNetwork && headers.allowsPrivateNetwork
            case .noAllowCredentials:
                return headers.allowsCredentials
            case .noExposeHeaders:
                return headers.actual.contains { $0.name == "Access-Control-Expose-Headers" }
            default:
                return true
            }
        }
        if let requested = injector.requested(by: head) { return applies(requested) ? requested : nil }
        guard !rules.isEmpty else { return nil }
        return injector.chosen(
            from: rules,
            method: preflightRequest?.method ?? head.method.rawValue,
            origin: origin,
            applies: applies
        )
    }

    /// Changes the lines as `fault` says; on an actual answer, `X-Corsproxy-Fault` (and `Retry-After` for a
    /// `status` fault) are exposed, so a script that can read the response sees what was injected.
    func apply(_ fault: Fault, to lines: inout [(name: String, value: String)], answer: Answer) {
        let allowOrigin = "Access-Control-Allow-Origin"
        switch fault {
        case .noAllowOrigin, .preflightNoAllowOrigin:
            lines.removeAll { $0.name == allowOrigin }
        case .wrongAllowOrigin:
            Self.set(allowOrigin, to: Fault.wrongOrigin, in: &lines)
        case .multipleAllowOrigin:
            if let index = lines.firstIndex(where: { $0.name == allowOrigin }) {
                lines.insert(lines[index], at: index + 1)
            }
        case .wildcardWithCredentials:
            Self.set(allowOrigin, to: "*", in: &lines)
            if !lines.contains(where: { $0.name == "Access-Control-Allow-Credentials" }) {
                lines.insert(("Access-Control-Allow-Credentials", "true"), at: 1)
            }
        case .noAllowCredentials:
            lines.removeAll { $0.name == "Access-Control-Allow-Credentials" }
        case .noExposeHeaders:
            lines.removeAll { $0.name == "Access-Control-Expose-Headers" }
            return
        case .methodNotAllowed:
            guard let method = self.preflightRequest?.method else { return }
            Self.filterList("Access-Control-Allow-Methods", in: &lines) { $0 != method && $0 != "*" }
        case .headerNotAllowed:
            let requested = Set(BrowserModel.list(self.preflightRequest?.headers ?? []).map { $0.lowercased() })
            Self.filterList("Access-Control-Allow-Headers", in: &lines) {
                !requested.contains($0.lowercased()) && $0 != "*"
            }
        case .privateNetworkMissing:
            lines.removeAll { $0.name == "Access-Control-Allow-Private-Network" }
        case .errorWithoutCORS, .preflightStatus, .preflightRedirect, .latency, .status:
            break
        }
        guard answer != .preflight else { return }
        var exposed = ["X-Corsproxy-Fault"]
        if case .status = fault { exposed.append("Retry-After") }
        Self.expose(exposed, in: &lines)
    }

    /// Report-only: a preflight answer that allows what was asked for, as if the policy listed it.
    static func widen(
        _ lines: inout [(name: String, value: String)],
        toAllow request: (method: String, headers: [String])
    ) {
        Self.extendList("Access-Control-Allow-Methods", with: [request.method], in: &lines)
        Self.extendList("Access-Control-Allow-Headers", with: BrowserModel.list(request.headers), in: &lines)
    }

    private static func set(_ name: String, to value: String, in lines: inout [(name: String, value: String)]) {
        guard let index = lines.firstIndex(where: { $0.name == name }) else { return }
        lines[index].value = value
    }

    /// Keeps the list items of header `name` that pass `keep`; drops the line when none is left.
    private static func filterList(
        _ name: String,
        in lines: inout [(name: String, value: String)],
        keep: (String) -> Bool
    ) {
        guard let index = lines.firstIndex(where: { $0.name == name }) else { return }
        let kept = BrowserModel.list([lines[index].value]).filter(keep)
        if kept.isEmpty {
            lines.remove(at: index)
        } else {
            lines[index].value = kept.joined(separator: ", ")
        }
    }

    /// Adds the items of `extra` that the list header `name` lacks (case-insensitively), adding the line if needed.
    private static func extendList(
        _ name: String,
        with extra: [String],
        in lines: inout [(name: String, value: String)]
    ) {
        guard !extra.isEmpty else { return }
        guard let index = lines.firstIndex(where: { $0.name == name }) else {
            lines.append((name, extra.joined(separator: ", ")))
            return
        }
        var items = BrowserModel.list([lines[index].value])
        for item in extra where !items.contains(where: { $0.lowercased() == item.lowercased() }) { items.append(item) }
        lines[index].value = items.joined(separator: ", ")
    }

    /// Adds `names` to `Access-Control-Expose-Headers`, adding the line if needed.
    static func expose(_ names: [String], in lines: inout [(name: String, value: String)]) {
        Self.extendList("Access-Control-Expose-Headers", with: names, in: &lines)
    }
}

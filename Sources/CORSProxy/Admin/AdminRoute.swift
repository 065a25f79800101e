internal import NIOCore
internal import NIOHTTP1

/// The admin listener's endpoints: one case per path, with the methods it answers and the answer it gives.
/// Adding an endpoint (`POST /reload`) is one case here, its methods and its answer; ``AdminHandler`` needs no
/// change.
enum AdminRoute: String, CaseIterable {
    /// Every series of ``ProxyMetrics``, in Prometheus' text format.
    case metrics = "/metrics"
    /// Liveness: 200 while the process serves at all, also during a drain.
    case healthz = "/healthz"
    /// Readiness: 200, then 503 from the moment a drain begins.
    case readyz = "/readyz"
    /// The config in force and its version (``ConfigView``).
    case config = "/config"
    /// The fault ledger, as `/__corsproxy/faults` serves it without an admin listener.
    case faults = "/faults"
    /// The report-only counts, as `/__corsproxy/report` serves them without an admin listener.
    case report = "/report"
    /// Reads and checks the config file and applies it (``ConfigReloader/reload(trigger:)``): 200 with what
    /// changed, or 422 with every problem while the old config keeps serving.
    case reload = "/reload"

    /// What the endpoints read: one proxy's config, sinks and readiness.
    struct Source: Sendable {
        let store: ConfigStore
        let observers: ExchangeObservers
        let readiness: Readiness
        /// The listener's TLS certificate, once the proxy has started with `tls`.
        let certificates: @Sendable () -> CertificateStore?
        /// Reloads the config file; `nil` when nothing watches one (an embedded server).
        let reload: (@Sendable () async -> ConfigReloader.Result)?
        /// The inspector at `/inspector`.
        let inspector: Inspector?
    }

    /// An endpoint's answer: ready now, or once an asynchronous step (a reload) has finished.
    enum Answer {
        case now(ProxyResponse)
        case later(@Sendable () async -> ProxyResponse)
    }

    /// The route at `path` (the request target without its query).
    init?(path: Substring) {
        self.init(rawValue: String(path))
    }

    /// The methods the endpoint answers; anything else gets 405 with `Allow`.
    var methods: [HTTPMethod] {
        switch self {
        case .metrics, .healthz, .readyz, .config, .faults, .report: [.GET, .HEAD]
        case .reload: [.POST]
        }
    }

    /// The answer to a request with an allowed method.
    func response(from source: Source) -> ProxyResponse {
        switch self {
        case .metrics:
            if let certificates = source.certificates() {
                source.observers.metrics?.setTLSCertificateExpiry(certificates.status.notValidAfter)
            }
            let text = source.observers.metrics?.exposition() ?? []
            return ProxyResponse(
                status: .ok,
                headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store")],
                body: ByteBuffer(bytes: text)
            )
        case .healthz:
            return .text(.ok, "ok\n")
        case .readyz:
            return source.readiness.isDraining ? .text(.serviceUnavailable, "draining\n") : .text(.ok, "ready\n")
        case .config:
            return Self.json(ConfigView.json(source.store.current))
        case .faults:
            return Self.json(source.observers.ledger.json)
        case .report:
            return Self.json(source.observers.report.json(mode: source.store.current.config.cors.mode))
        case .reload:
            preconditionFailure("POST /reload is answered later, by answer(path:method:from:)")
        }
    }

    /// The answer to a request for `path` with `method`: the endpoint's, 405 or 404.
    static func answer(path: Substring, method: HTTPMethod, from source: Source) -> Answer {
        guard let route = AdminRoute(path: path) else {
            return .now(ProxyError.noAdminEndpoint(path: String(path), known: Self.allCases.map(\.rawValue)).response)
        }
        guard route.methods.contains(method) else {
            var response = ProxyError.methodNotAllowed(path: String(path)).response
            response.headers.removeAll { $0.name == "Allow" }
            response.headers.append(("Allow", route.methods.map(\.rawValue).joined(separator: ", ")))
            return .now(response)
        }
        guard route == .reload else { return .now(route.response(from: source)) }
        guard let reload = source.reload else {
            return .now(ProxyError.noAdminEndpoint(path: String(path), known: Self.allCases.map(\.rawValue)).response)
        }
        return .later {
            let result = await reload()
            var response = Self.json(ReloadView.json(result))
            if result.outcome == .refused { response.status = .unprocessableEntity }
            return response
        }
    }

    private static func json(_ body: ByteBuffer) -> ProxyResponse {
        ProxyResponse(
            status: .ok,
            headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
            body: body
        )
    }
}

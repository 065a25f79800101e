internal import CurlBridge
public import FoundationEssentials
public import Prometheus

/// The metrics of one proxy instance, in a Prometheus registry of its own, which the admin listener's
/// `GET /metrics` renders. Nothing here touches swift-metrics' global `MetricsSystem`: several proxies in one
/// process (the tests run many) each count alone. Code that speaks swift-metrics can still record here through
/// ``factory``.
///
/// Most series are fed from ``ExchangeRecord``s by ``MetricsSink``; the few that are not are gauges set
/// directly: open connections and exchanges in flight (by ``ProxyServer``), and the reload and TLS series,
/// whose setters (``recordReload(success:at:)``, ``setTLSCertificateExpiry(_:)``) the features that own them
/// call. Every label value comes from a bounded set (route prefixes from the config, status codes, fixed
/// verdict, fault and error kinds): never an origin, a path or a token.
///
/// Thread-safe: counters and gauges are atomics; a histogram takes its own short lock per observation.
public final class ProxyMetrics: Sendable {
    /// Where every series lives; render it with `emit(into:)`.
    public let registry: PrometheusCollectorRegistry

    /// Histogram buckets for request and upstream durations: 1 ms to 30 s, what a proxy in front of an API sees.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    let requestsInFlight: Gauge
    let connectionsOpen: Gauge
    let upstreamErrors: [CurlError.Kind: Counter]
    let upstreamConnectionsOpened: Counter
    /// `corsproxy_rate_limited_total`, one series per limit that refuses.
    let rateLimited: [RateLimitKind: Counter]
    private let reloads: (success: Counter, failure: Counter)
    private let lastReloadSuccess: Gauge
    private let tlsCertificateExpiry: Gauge

    /// - Parameter registry: The registry to register the series in; a new one by default.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.requestsInFlight = registry.makeGauge(descriptor: Self.requestsInFlightName)
        self.connectionsOpen = registry.makeGauge(descriptor: Self.connectionsOpenName)
        var errors: [CurlError.Kind: Counter] = [:]
        for kind in CurlError.Kind.allCases {
            errors[kind] = registry.makeCounter(descriptor: Self.upstreamErrorsName, labels: [("kind", kind.rawValue)])
        }
        self.upstreamErrors = errors
        self.upstreamConnectionsOpened = registry.makeCounter(descriptor: Self.upstreamConnectionsOpenedName)
        var limited: [RateLimitKind: Counter] = [:]
        for limit in RateLimitKind.allCases {
            limited[limit] = registry.makeCounter(descriptor: Self.rateLimitedName, labels: [("limit", limit.rawValue)])
        }
        self.rateLimited = limited
        self.reloads = (
            registry.makeCounter(descriptor: Self.reloadsName, labels: [("result", "success")]),
            registry.makeCounter(descriptor: Self.reloadsName, labels: [("result", "failure")])
        )
        self.lastReloadSuccess = registry.makeGauge(descriptor: Self.lastReloadSuccessName)
        self.tlsCertificateExpiry = registry.makeGauge(descriptor: Self.tlsCertificateExpiryName)
        // The config loaded at start is the first successful load.
        self.lastReloadSuccess.set(Date.now.timeIntervalSince1970)
    }

    /// A swift-metrics factory that records into ``registry``, for code written against swift-metrics' API
    /// (`Counter(label:dimensions:factory:)`); pass it explicitly rather than bootstrapping `MetricsSystem`.
    public var factory: PrometheusMetricsFactory {
        PrometheusMetricsFactory(registry: self.registry)
    }

    /// Counts one config reload attempt: `corsproxy_config_reloads_total{result="success"|"failure"}`, and on
    /// success sets `corsproxy_config_last_reload_success_timestamp_seconds`. The reload feature (SIGHUP, a
    /// changed file, `POST /reload`) calls it once per attempt, after validation decided.
    /// - Parameters:
    ///   - success: Whether the new config went into force; a refused one leaves the old one serving.
    ///   - time: When it went into force.
    public func recordReload(success: Bool, at time: Date = .now) {
        if success {
            self.reloads.success.increment()
            self.lastReloadSuccess.set(time.timeIntervalSince1970)
        } else {
            self.reloads.failure.increment()
        }
    }

    /// Sets `corsproxy_tls_certificate_expiry_timestamp_seconds`, the `notAfter` of the certificate the main
    /// listener serves, so an alert can fire before it expires. The TLS listener calls it when it loads (or
    /// reloads) a certificate; `nil` (no TLS) sets 0.
    /// - Parameter notAfter: The certificate's expiry.
    public func setTLSCertificateExpiry(_ notAfter: Date?) {
        self.tlsCertificateExpiry.set(notAfter?.timeIntervalSince1970 ?? 0)
    }

    /// An exchange began (its head arrived): it is in flight until its record comes.
    func exchangeStarted() {
        self.requestsInFlight.increment()
    }

    /// An exchange ended: its record is on its way to the sinks.
    func exchangeEnded() {
        self.requestsInFlight.decrement()
    }

    /// A client connection opened, or closed.
    func connectionOpened() { self.connectionsOpen.increment() }
    func connectionClosed() { self.connectionsOpen.decrement() }

    /// The text exposition of every series (`text/plain; version=0.0.4`).
    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        self.registry.emit(into: &buffer)
        return buffer
    }
}

extension ProxyMetrics {
    private static func name(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    static var requestsName: MetricNameDescriptor {
        name(
            "corsproxy_requests_total",
            "Exchanges ended, by route prefix (none: no route), status sent and CORS verdict."
        )
    }
    static var requestDurationName: MetricNameDescriptor {
        name(
            "corsproxy_request_duration_seconds",
            "From the request head's arrival to the end of the response, by route prefix."
        )
    }
    static var upstreamDurationName: MetricNameDescriptor {
        name(
            "corsproxy_upstream_duration_seconds",
            "From the upstream transfer's start to the upstream response head, by route prefix."
        )
    }
    static var responseBytesName: MetricNameDescriptor {
        name(
            "corsproxy_response_bytes_total",
            "Response body bytes relayed to clients, by route prefix."
        )
    }
    static var requestsInFlightName: MetricNameDescriptor {
        name(
            "corsproxy_requests_in_flight",
            "Exchanges begun and not yet ended."
        )
    }
    static var connectionsOpenName: MetricNameDescriptor {
        name("corsproxy_connections_open", "Open client connections on the main port.")
    }
    static var upstreamErrorsName: MetricNameDescriptor {
        name(
            "corsproxy_upstream_errors_total",
            "Failed upstream transfers, by kind: timeout, connect, tls, reset, other."
        )
    }
    static var upstreamConnectionsOpenedName: MetricNameDescriptor {
        name(
            "corsproxy_upstream_connections_opened_total",
            "New upstream connections libcurl opened for completed transfers (CURLINFO_NUM_CONNECTS)."
        )
    }
    static var faultsName: MetricNameDescriptor { name("corsproxy_faults_injected_total", "Injected faults, by kind.") }
    static var rateLimitedName: MetricNameDescriptor {
        name("corsproxy_rate_limited_total", "Requests the proxy refused with 429 under one of its limits, by limit.")
    }
    static var rateLimitRemainingName: MetricNameDescriptor {
        name(
            "corsproxy_upstream_rate_limit_remaining",
            "The last X-Rate-Limit-Remaining an upstream response of the route carried."
        )
    }
    static var reloadsName: MetricNameDescriptor {
        name("corsproxy_config_reloads_total", "Config reload attempts, by result.")
    }
    static var lastReloadSuccessName: MetricNameDescriptor {
        name(
            "corsproxy_config_last_reload_success_timestamp_seconds",
            "When the config in force was loaded (Unix time)."
        )
    }
    static var tlsCertificateExpiryName: MetricNameDescriptor {
        name(
            "corsproxy_tls_certificate_expiry_timestamp_seconds",
            "When the served TLS certificate expires (Unix time); 0 without TLS."
        )
    }
}

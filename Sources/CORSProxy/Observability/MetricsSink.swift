internal import CurlBridge
internal import NIOPosix
internal import Prometheus

/// Turns each ``ExchangeRecord`` into ``ProxyMetrics``' per-exchange series: `corsproxy_requests_total`, the two
/// duration histograms, response bytes, upstream errors and new upstream connections, injected faults, refusals
/// under the proxy's limits, and the last `X-Rate-Limit-Remaining` per route.
///
/// Cost on the event loop: looking a labelled series up in the registry takes its lock and hashes the label
/// strings, so each thread keeps its own cache of the series it has used (a `ThreadSpecificVariable`) and goes to
/// the registry only for a combination it has not seen. After warm-up a record costs two dictionary look-ups,
/// a few atomic adds and one histogram lock per observed duration; no lock is shared by all requests.
struct MetricsSink: ExchangeSink {
    let metrics: ProxyMetrics
    private let caches = ThreadSpecificVariable<SeriesCache>()

    /// - Parameter metrics: Where the series live.
    init(metrics: ProxyMetrics) {
        self.metrics = metrics
    }

    func record(_ record: ExchangeRecord) {
        let cache: SeriesCache
        if let existing = self.caches.currentValue {
            cache = existing
        } else {
            cache = SeriesCache()
            self.caches.currentValue = cache
        }
        let route = cache.route(record.routePrefix ?? "none", in: self.metrics.registry)
        route.requests(status: record.status, cors: CORSLabel(record), in: self.metrics.registry).increment()
        route.duration.record(record.duration)
        if let upstream = record.upstreamDuration { route.upstreamDuration.record(upstream) }
        if record.bytesOut > 0 { route.responseBytes.increment(by: Int64(record.bytesOut)) }
        if let remaining = record.rateLimitRemaining {
            route.rateLimitRemaining(in: self.metrics.registry).set(remaining)
        }
        if let code = record.curlCode { self.metrics.upstreamErrors[CurlError.Kind(code: code)]?.increment() }
        if record.upstreamConnectionsOpened > 0 {
            self.metrics.upstreamConnectionsOpened.increment(by: Int64(record.upstreamConnectionsOpened))
        }
        if let fault = record.cors.fault { cache.fault(fault.kind, in: self.metrics.registry).increment() }
        if let limit = record.limit { self.metrics.rateLimited[limit.kind]?.increment() }
    }
}

/// `corsproxy_requests_total`'s `cors` label: what CORS made of the exchange, from a fixed set.
enum CORSLabel: String, CaseIterable {
    /// No `Origin`: not a CORS request.
    case absent
    /// An actual request from an allowed origin.
    case allowed
    /// An actual request from an origin the policy refuses (403 in `reject` mode, no CORS headers in
    /// `omit-headers` mode).
    case refused
    /// A preflight the policy admits.
    case preflight
    /// A preflight refused: its origin, method, headers or private-network request.
    case preflightRefused = "preflight-refused"
    /// Report-only mode served it, but enforcing the policy would have blocked it.
    case wouldBlock = "would-block"

    init(_ record: ExchangeRecord) {
        let cors = record.cors
        if record.isReportOnly, cors.wouldBlock != nil {
            self = .wouldBlock
            return
        }
        switch (cors.stage, cors.verdict) {
        case (.preflight, .refused):
            self = .preflightRefused
        case (.preflight, _):
            self = cors.preflightRefusal == nil ? .preflight : .preflightRefused
        case (_, .absent):
            self = .absent
        case (_, .allowed):
            self = .allowed
        case (_, .refused):
            self = .refused
        }
    }
}

/// The series one thread has used, so it asks the registry for each only once.
///
/// @unchecked Sendable: each instance is reached only through a `ThreadSpecificVariable`, so only by the thread
/// that made it; the series it holds are Sendable.
private final class SeriesCache: @unchecked Sendable {
    private var routes: [String: RouteSeries] = [:]
    private var faults: [String: Counter] = [:]

    func route(_ prefix: String, in registry: PrometheusCollectorRegistry) -> RouteSeries {
        if let series = self.routes[prefix] { return series }
        let series = RouteSeries(prefix: prefix, registry: registry)
        self.routes[prefix] = series
        return series
    }

    func fault(_ kind: String, in registry: PrometheusCollectorRegistry) -> Counter {
        if let counter = self.faults[kind] { return counter }
        let counter = registry.makeCounter(descriptor: ProxyMetrics.faultsName, labels: [("kind", kind)])
        self.faults[kind] = counter
        return counter
    }
}

/// One route's series, as one thread caches them.
private final class RouteSeries {
    let prefix: String
    let duration: DurationHistogram
    let upstreamDuration: DurationHistogram
    let responseBytes: Counter
    private var remaining: Gauge?
    /// `corsproxy_requests_total` by status and verdict: key `status * 8 + verdict index`.
    private var requests: [Int: Counter] = [:]

    init(prefix: String, registry: PrometheusCollectorRegistry) {
        self.prefix = prefix
        let labels = [("route", prefix)]
        self.duration = registry.makeDurationHistogram(
            descriptor: ProxyMetrics.requestDurationName,
            labels: labels,
            buckets: ProxyMetrics.durationBuckets
        )
        self.upstreamDuration = registry.makeDurationHistogram(
            descriptor: ProxyMetrics.upstreamDurationName,
            labels: labels,
            buckets: ProxyMetrics.durationBuckets
        )
        self.responseBytes = registry.makeCounter(descriptor: ProxyMetrics.responseBytesName, labels: labels)
    }

    func requests(status: Int, cors: CORSLabel, in registry: PrometheusCollectorRegistry) -> Counter {
        // Statuses are three digits (libcurl and the proxy's own answers); anything else shares "other".
        let status = (100...599).contains(status) ? status : 0
        let key = status * 8 + (CORSLabel.allCases.firstIndex(of: cors) ?? 0)
        if let counter = self.requests[key] { return counter }
        let counter = registry.makeCounter(
            descriptor: ProxyMetrics.requestsName,
            labels: [
                ("route", self.prefix), ("status", status == 0 ? "other" : String(status)), ("cors", cors.rawValue),
            ]
        )
        self.requests[key] = counter
        return counter
    }

    func rateLimitRemaining(in registry: PrometheusCollectorRegistry) -> Gauge {
        if let gauge = self.remaining { return gauge }
        let gauge = registry.makeGauge(
            descriptor: ProxyMetrics.rateLimitRemainingName,
            labels: [("route", self.prefix)]
        )
        self.remaining = gauge
        return gauge
    }
}

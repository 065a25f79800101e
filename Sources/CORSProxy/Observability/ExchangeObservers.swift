/// Everything that watches exchanges for one server: the sinks every ``ExchangeRecord`` goes to, two of which
/// the proxy's own endpoints read.
struct ExchangeObservers: Sendable {
    let ledger: FaultLedger
    let report: OriginReport
    /// The metrics, when an admin listener will serve them; `nil` spares the per-exchange work.
    let metrics: ProxyMetrics?
    /// The inspector's ring, when an inspector is served (``Inspector/isServed(by:)``); `nil` spares the response
    /// head each record would otherwise keep.
    let inspector: InspectorRing?
    /// The given sinks, then the ledger and the report, the metrics' sink and the inspector's ring.
    let sinks: [any ExchangeSink]

    /// - Parameters:
    ///   - sinks: The sinks besides the ledger and the report (the log).
    ///   - metrics: Where ``MetricsSink`` counts, if anywhere.
    ///   - inspector: The inspector's ring, if an inspector is served.
    init(sinks: [any ExchangeSink], metrics: ProxyMetrics? = nil, inspector: InspectorRing? = nil) {
        let ledger = FaultLedger()
        let report = OriginReport()
        self.ledger = ledger
        self.report = report
        self.metrics = metrics
        self.inspector = inspector
        self.sinks =
            sinks + [ledger, report] + (metrics.map { [MetricsSink(metrics: $0)] } ?? [])
            + (inspector.map { [$0] } ?? [])
    }

    /// An exchange began (its head arrived): it is in flight until its record comes.
    func exchangeStarted() {
        self.metrics?.exchangeStarted()
    }

    func record(_ record: ExchangeRecord) {
        self.metrics?.exchangeEnded()
        for sink in self.sinks { sink.record(record) }
    }
}

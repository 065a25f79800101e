/// Everything that watches exchanges for one server: the sinks every ``ExchangeRecord`` goes to, two of which
/// the proxy's own endpoints read.
struct ExchangeObservers: Sendable {
    let ledger: FaultLedger
    let report: OriginReport
    /// The metrics, when an admin listener will serve them; `nil` spares the per-exchange work.
    let metrics: ProxyMetrics?
    /// The given sinks, then the ledger and the report, and the metrics' sink.
    let sinks: [any ExchangeSink]

    /// - Parameters:
    ///   - sinks: The sinks besides the ledger and the report (the log).
    ///   - metrics: Where ``MetricsSink`` counts, if anywhere.
    init(sinks: [any ExchangeSink], metrics: ProxyMetrics? = nil) {
        let ledger = FaultLedger()
        let report = OriginReport()
        self.ledger = ledger
        self.report = report
        self.metrics = metrics
        self.sinks = sinks + [ledger, report] + (metrics.map { [MetricsSink(metrics: $0)] } ?? [])
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

/// Everything that watches exchanges for one server: the sinks every ``ExchangeRecord`` goes to, two of which
/// the proxy's own endpoints read.
struct ExchangeObservers: Sendable {
    let ledger: FaultLedger
    let report: OriginReport
    /// The given sinks, then the ledger and the report.
    let sinks: [any ExchangeSink]

    /// - Parameter sinks: The sinks besides the ledger and the report (the log).
    init(sinks: [any ExchangeSink]) {
        let ledger = FaultLedger()
        let report = OriginReport()
        self.ledger = ledger
        self.report = report
        self.sinks = sinks + [ledger, report]
    }

    func record(_ record: ExchangeRecord) {
        for sink in self.sinks { sink.record(record) }
    }
}

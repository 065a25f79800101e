/// Where ``ExchangeRecord``s go: the log, and later metrics, the inspector's ring and the fault ledger.
///
/// Called on the event loop of the exchange's connection, once per exchange: a sink must not block, and does
/// the expensive part of its work (formatting, aggregation) as late and as rarely as it can.
protocol ExchangeSink: Sendable {
    func record(_ record: ExchangeRecord)
}

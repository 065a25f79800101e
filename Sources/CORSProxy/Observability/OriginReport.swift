internal import NIOConcurrencyHelpers
internal import NIOCore

/// What report-only mode counts (`GET /__corsproxy/report`): per origin, its requests, how many the enforced
/// policy would block, and why. At most ``maxOrigins`` origins are named; the rest are counted as `"other"`, so
/// memory stays bounded whatever origins appear.
final class OriginReport: ExchangeSink {
    struct Counts: Encodable {
        var origin: String
        var requests = 0
        var wouldBlock = 0
        var reasons: [String: Int] = [:]
    }

    static let maxOrigins = 1000
    static let other = "other"
    private let counts = NIOLockedValueBox<[String: Counts]>([:])

    func record(_ record: ExchangeRecord) {
        guard record.isReportOnly, let origin = record.cors.verdict.origin else { return }
        let reason = record.cors.wouldBlock?.rawValue
        self.counts.withLockedValue { counts in
            let key = counts[origin] != nil || counts.count < Self.maxOrigins ? origin : Self.other
            counts[key, default: Counts(origin: key)].requests += 1
            if let reason {
                counts[key, default: Counts(origin: key)].wouldBlock += 1
                counts[key, default: Counts(origin: key)].reasons[reason, default: 0] += 1
            }
        }
    }

    /// `{"mode", "origins": [{"origin", "requests", "wouldBlock", "reasons": {REASON: count}}]}`, the busiest
    /// origin first.
    func json(mode: ProxyConfig.CORSMode) -> ByteBuffer {
        struct Report: Encodable {
            var mode: String
            var origins: [Counts]
        }
        let origins = self.counts.withLockedValue { Array($0.values) }
            .sorted { ($0.requests, $1.origin) > ($1.requests, $0.origin) }
        return JSONBody.encode(Report(mode: mode.rawValue, origins: origins))
    }
}

internal import FoundationEssentials
internal import NIOConcurrencyHelpers
internal import NIOCore

/// The most recent injected faults (`GET /__corsproxy/faults`), so a test can prove a failure was injected even
/// though the browser hid the response. A bounded ring: memory stays the same whatever the traffic.
final class FaultLedger: ExchangeSink {
    struct Entry: Encodable {
        var time: String
        var kind: String
        var method: String
        var path: String
        var origin: String?
        var requestId: String
    }

    static let capacity = 256
    private let entries = NIOLockedValueBox(CircularBuffer<Entry>(initialCapacity: FaultLedger.capacity))

    func record(_ record: ExchangeRecord) {
        guard let fault = record.cors.fault else { return }
        let entry = Entry(
            time: Date.now.ISO8601Format(),
            kind: fault.kind,
            method: record.method,
            path: String(RequestTarget(record.target).path),
            origin: record.cors.verdict.origin,
            requestId: record.requestID.description
        )
        self.entries.withLockedValue { entries in
            if entries.count == Self.capacity { entries.removeFirst(1) }
            entries.append(entry)
        }
    }

    /// `{"faults": [{"time", "kind", "method", "path", "origin", "requestId"}, …]}`, oldest first.
    var json: ByteBuffer {
        let entries = self.entries.withLockedValue { Array($0) }
        return JSONBody.encode(["faults": entries])
    }
}

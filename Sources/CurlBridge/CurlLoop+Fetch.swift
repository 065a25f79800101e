internal import NIOConcurrencyHelpers
public import NIOCore

extension CurlLoop {
    /// Runs one transfer to completion and returns its head and body: a convenience for one-shot callers such as
    /// `corsproxy doctor`, not for the proxy's streaming path.
    /// - Parameters:
    ///   - request: The request; its body must be `.none` or `.length(0)`.
    ///   - maxBodyBytes: Body bytes kept; the rest is read and dropped.
    public func fetch(
        _ request: TransferRequest,
        maxBodyBytes: Int = 1 << 20
    ) async throws -> (TransferResponseHead, ByteBuffer) {
        let state = NIOLockedValueBox<
            (
                head: TransferResponseHead?, body: ByteBuffer,
                continuation: CheckedContinuation<(TransferResponseHead, ByteBuffer), any Error>?
            )
        >(
            (nil, ByteBuffer(), nil)
        )
        // The sink can run before `start` returns the transfer: consumption is counted until it is known.
        let consumer = NIOLockedValueBox<(transfer: Transfer?, unconsumed: Int)>((nil, 0))
        return try await withCheckedThrowingContinuation { continuation in
            state.withLockedValue { $0.continuation = continuation }
            let transfer = self.start(request) { events in
                var consumed = 0
                var outcome: Result<(TransferResponseHead, ByteBuffer), any Error>?
                let waiting = state.withLockedValue {
                    state -> CheckedContinuation<(TransferResponseHead, ByteBuffer), any Error>? in
                    for event in events {
                        switch event {
                        case .head(let head):
                            state.head = head
                        case .body(var buffer):
                            consumed += buffer.readableBytes
                            let room = max(0, maxBodyBytes - state.body.readableBytes)
                            if let slice = buffer.readSlice(length: min(room, buffer.readableBytes)) {
                                state.body.writeImmutableBuffer(slice)
                            }
                        case .end:
                            if let head = state.head { outcome = .success((head, state.body)) }
                        case .failed(let error):
                            outcome = .failure(error)
                        case .uploadDrained:
                            break
                        }
                    }
                    guard outcome != nil else { return nil }
                    defer { state.continuation = nil }
                    return state.continuation
                }
                if consumed > 0 {
                    let transfer = consumer.withLockedValue { consumer -> Transfer? in
                        if consumer.transfer == nil { consumer.unconsumed += consumed }
                        return consumer.transfer
                    }
                    transfer?.didConsume(consumed)
                }
                if let waiting, let outcome { waiting.resume(with: outcome) }
            }
            let unconsumed = consumer.withLockedValue { consumer -> Int in
                consumer.transfer = transfer
                return consumer.unconsumed
            }
            if unconsumed > 0 { transfer.didConsume(unconsumed) }
            transfer.finishBody()
        }
    }
}

internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOExtras

extension ServerQuiescingHelper {
    /// Starts the shutdown (no new connections; each open one closes once its exchange has ended) and returns
    /// when every connection has closed or `timeout` has passed, whichever comes first.
    func shutdown(on loop: any EventLoop, within timeout: Duration) async {
        let closed = loop.makePromise(of: Void.self)
        self.initiateShutdown(promise: closed)
        let done = loop.makePromise(of: Void.self)
        let isDone = NIOLockedValueBox(false)
        let finish: @Sendable () -> Void = {
            let isFirst = isDone.withLockedValue { isDone in
                defer { isDone = true }
                return !isDone
            }
            if isFirst { done.succeed() }
        }
        closed.futureResult.whenComplete { _ in finish() }
        let deadline = loop.scheduleTask(in: .nanoseconds(Int64(timeout / .nanoseconds(1)))) { finish() }
        _ = try? await done.futureResult.get()
        deadline.cancel()
    }
}

internal import Synchronization

/// Whether the proxy takes new work: `/readyz` answers 200 until a drain begins, then 503, so a load balancer
/// stops sending traffic while requests in flight finish. One-way: a drain is never undone. Any thread.
final class Readiness: Sendable {
    private let draining = Atomic<Bool>(false)

    /// A drain has begun (SIGTERM, SIGINT, or the server's shutdown).
    var isDraining: Bool { self.draining.load(ordering: .acquiring) }

    /// Marks the start of the drain.
    func beginDrain() {
        self.draining.store(true, ordering: .releasing)
    }
}

internal import Crypto
internal import FoundationEssentials
internal import NIOConcurrencyHelpers
internal import NIOHTTP1

/// The upstream budgets of one server's tokens (`routes[].upstreamBudget`): what each token's upstream last said
/// about its rate-limit window, so the proxy answers 429 itself before a token spends its last requests.
///
/// Shared by every event loop and outside the ``ConfigSnapshot``, so it survives reloads; a route's minimum is
/// read from the exchange's snapshot at each check. Tokens are spread over shards, each a ``Ledger`` behind its
/// own lock, held only for a dictionary look-up. Bounded: each shard keeps at most its share of `capacity`
/// tokens, and windows whose reset passed go first.
///
/// A token is never stored: its key is 128 bits of HMAC-SHA256 of the upstream's origin and the `Authorization`
/// value, under a key made at random for this process. The upstream's origin is part of it because each
/// upstream counts its own budget; routes to one upstream share a token's budget.
final class UpstreamBudget: Sendable {
    /// A token and its upstream, as the budget knows them.
    struct Key: Hashable, Sendable {
        let high: UInt64
        let low: UInt64
    }

    static let shardCount = 16

    private let shards: [NIOLockedValueBox<Ledger>]
    /// The HMAC key's bytes (`SymmetricKey` is not `Sendable`), random for this process.
    private let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    /// Unix seconds now; injected by tests.
    private let clock: @Sendable () -> Double

    /// - Parameters:
    ///   - capacity: The most tokens kept, over all shards.
    ///   - clock: The wall-clock time in Unix seconds, which `X-Rate-Limit-Reset` is written in.
    init(
        capacity: Int = 16_384,
        clock: @escaping @Sendable () -> Double = { Date.now.timeIntervalSince1970 }
    ) {
        let perShard = max(1, capacity / Self.shardCount)
        self.shards = (0..<Self.shardCount).map { _ in NIOLockedValueBox(Ledger(capacity: perShard)) }
        self.clock = clock
    }

    /// The key of a request's `Authorization` for `upstream` (its origin); `nil` without `Authorization`: such
    /// requests are not budgeted.
    func key(for headers: HTTPHeaders, upstream: String) -> Key? {
        let authorization = headers["authorization"]
        guard !authorization.isEmpty else { return nil }
        var message = Array(upstream.utf8)
        for value in authorization {
            message.append(0x0A)
            message += value.utf8
        }
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: self.secret))
        return code.withUnsafeBytes { bytes in
            Key(
                high: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                low: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            )
        }
    }

    /// Whether a request of `key` may go upstream now, a route's `minimumRemaining` given; an admitted request
    /// counts against the window at once.
    func admit(_ key: Key, minimumRemaining: Int) -> Ledger.Decision {
        let now = self.clock()
        return self.shard(key).withLockedValue { $0.admit(key, minimumRemaining: minimumRemaining, now: now) }
    }

    /// Takes in an upstream answer's `X-Rate-Limit-Remaining` (a count) and `X-Rate-Limit-Reset` (Unix seconds,
    /// `nil` when missing or not a whole number) for `key`.
    func observe(_ key: Key, remaining: Int, reset: Int64?) {
        let now = self.clock()
        self.shard(key).withLockedValue { $0.observe(key, remaining: remaining, reset: reset, now: now) }
    }

    /// The tokens kept, over all shards.
    var count: Int {
        self.shards.reduce(0) { total, shard in total + shard.withLockedValue { $0.windows.count } }
    }

    private func shard(_ key: Key) -> NIOLockedValueBox<Ledger> {
        self.shards[Int(key.low % UInt64(Self.shardCount))]
    }
}

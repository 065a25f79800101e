import NIOConcurrencyHelpers
import Testing

@testable import CORSProxy

/// ``TokenBucket`` and ``RateLimiter`` on a clock the test sets: every figure is exact.
@Suite("Rate limiter")
struct RateLimiterTests {
    /// A clock that moves only when told to.
    final class ManualClock: Sendable {
        private let nanoseconds = NIOLockedValueBox<UInt64>(1_000_000_000)
        var now: UInt64 { self.nanoseconds.withLockedValue { $0 } }
        func advance(seconds: Double) {
            self.nanoseconds.withLockedValue { $0 += UInt64(seconds * 1e9) }
        }
    }

    static let limit = ProxyConfig.RateLimit(key: .client, rate: 10, burst: 20)

    func limiter(_ clock: ManualClock, maximumKeys: Int = 1 << 20, shards: Int = 16) -> RateLimiter {
        RateLimiter(shards: shards, maximumKeys: maximumKeys, clock: { clock.now })
    }

    /// Takes `count` tokens of `key`; returns how many were admitted.
    func take(
        _ limiter: RateLimiter,
        _ key: String,
        _ count: Int,
        limit: ProxyConfig.RateLimit = Self.limit,
        version: Int = 1
    ) -> Int {
        (0..<count).filter { _ in limiter.take(.client(key), limit: limit, version: version) == .admitted }.count
    }

    @Test("a new key has a whole burst, then one token per 1/rate seconds")
    func burstThenRefill() {
        let clock = ManualClock()
        let limiter = self.limiter(clock)
        #expect(self.take(limiter, "a", 25) == 20)
        clock.advance(seconds: 0.099)
        #expect(self.take(limiter, "a", 1) == 0, "the next token is 100 ms after the last one spent")
        clock.advance(seconds: 0.001)
        #expect(self.take(limiter, "a", 2) == 1)
        clock.advance(seconds: 1)
        #expect(self.take(limiter, "a", 20) == 10)
        clock.advance(seconds: 60)
        #expect(self.take(limiter, "a", 30) == 20, "refill stops at the burst")
    }

    @Test("keys have their own buckets")
    func separateKeys() {
        let clock = ManualClock()
        let limiter = self.limiter(clock)
        #expect(self.take(limiter, "a", 20) == 20)
        #expect(self.take(limiter, "b", 20) == 20)
        #expect(limiter.take(.origin("a"), limit: Self.limit, version: 1) == .admitted, "an origin is not a client")
    }

    @Test("Retry-After is the ceiling of the time to the next token, never 0")
    func retryAfter() {
        let clock = ManualClock()
        let limiter = self.limiter(clock)
        _ = self.take(limiter, "a", 20)
        #expect(
            limiter.take(.client("a"), limit: Self.limit, version: 1) == .refused(retryAfterNanoseconds: 100_000_000)
        )
        #expect(limiter.take(.client("a"), limit: Self.limit, version: 1).retryAfterSeconds == 1, "0.1 s rounds up")
        // A shard judges by the settings of the newest config it has seen: another rate needs its own limiter.
        let slow = ProxyConfig.RateLimit(key: .client, rate: 0.4, burst: 1)
        let slowLimiter = self.limiter(clock)
        #expect(slowLimiter.take(.client("s"), limit: slow, version: 1) == .admitted)
        #expect(slowLimiter.take(.client("s"), limit: slow, version: 1).retryAfterSeconds == 3, "2.5 s → 3")
        clock.advance(seconds: 2)
        #expect(slowLimiter.take(.client("s"), limit: slow, version: 1) == .refused(retryAfterNanoseconds: 500_000_000))
        #expect(slowLimiter.take(.client("s"), limit: slow, version: 1).retryAfterSeconds == 1)
        clock.advance(seconds: 0.5)
        #expect(slowLimiter.take(.client("s"), limit: slow, version: 1) == .admitted)
        #expect(TokenBucket.retryAfterSeconds(0) == 1)
        #expect(TokenBucket.retryAfterSeconds(1_000_000_000) == 1)
        #expect(TokenBucket.retryAfterSeconds(1_000_000_001) == 2)
    }

    @Test("full buckets are dropped at the next sweep; spent ones are kept")
    func eviction() {
        let clock = ManualClock()
        let limiter = self.limiter(clock, shards: 1)
        for index in 0..<1000 { _ = self.take(limiter, "k\(index)", 1) }
        _ = self.take(limiter, "busy", 20)
        #expect(limiter.count == 1001)
        // 0.1 s refills one token: the 1000 one-token keys are full, "busy" (2 s from full) is not.
        clock.advance(seconds: 1.1)
        _ = self.take(limiter, "trigger", 1)
        #expect(limiter.count == 2, "busy and trigger")
        #expect(self.take(limiter, "busy", 20) == 11, "busy kept what it had spent")
    }

    @Test("never more than the cap, however many keys; the fullest of a sample goes first")
    func hardCap() {
        let clock = ManualClock()
        let limiter = self.limiter(clock, maximumKeys: 64, shards: 4)
        for index in 0..<10_000 { _ = self.take(limiter, "k\(index)", 20) }
        #expect(limiter.count <= 64)
        #expect(limiter.count >= 60)
    }

    @Test("a reload's new rate keeps what each key has spent; a new key kind starts afresh")
    func reloadRescales() {
        let clock = ManualClock()
        let limiter = self.limiter(clock, shards: 1)
        #expect(self.take(limiter, "a", 20) == 20)
        // 20 tokens owed at 10/s; at 1/s with burst 5 that is the whole bucket: 1 s to the next token.
        let slower = ProxyConfig.RateLimit(key: .client, rate: 1, burst: 5)
        #expect(limiter.take(.client("a"), limit: slower, version: 2) == .refused(retryAfterNanoseconds: 1_000_000_000))
        #expect(
            limiter.take(.client("a"), limit: Self.limit, version: 1) == .refused(retryAfterNanoseconds: 1_000_000_000),
            "an exchange pinned to the old config is judged by the newer settings"
        )
        clock.advance(seconds: 2)
        #expect(self.take(limiter, "a", 5, limit: slower, version: 2) == 2)
        let byOrigin = ProxyConfig.RateLimit(key: .origin, rate: 1, burst: 5)
        _ = limiter.take(.client("b"), limit: byOrigin, version: 3)
        #expect(limiter.count == 1, "the client buckets went with the key kind")
    }
}

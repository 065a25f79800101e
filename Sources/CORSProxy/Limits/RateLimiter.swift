internal import NIOConcurrencyHelpers
internal import NIOCore

/// `limits.rateLimit`: one ``TokenBucket`` per key, for the whole instance — every event loop's connections
/// draw on the same buckets — and outside the config snapshot, so a reload keeps what each key has spent.
///
/// Thread-safe. Keys are spread over shards by a per-process random hash (Swift's seeded `Hasher`, so a client
/// cannot aim its keys at one shard), each behind its own lock held for one dictionary access; two event loops
/// contend only when their keys share a shard. A shard stores the key's 64-bit hash, not the key: a collision
/// (about 1 in 10^13 for a million keys) makes two keys share a bucket.
///
/// Memory stays bounded whatever the number of keys: a full bucket is the same as none, so each shard drops its
/// full buckets when it is next used after ``sweepInterval`` (lazily: no timer); and a shard never holds more
/// than its share of ``maximumKeys``: at that cap it first sweeps, then evicts the fullest of a few buckets (the
/// one closest to being dropped anyway), which favours the key that has been quiet longest, as an LRU would.
final class RateLimiter: Sendable {
    /// What a request gets.
    enum Verdict: Sendable, Equatable {
        case admitted
        /// Over the limit: the next token comes in this many nanoseconds.
        case refused(retryAfterNanoseconds: UInt64)

        /// `Retry-After`: whole seconds, rounded up, at least 1.
        var retryAfterSeconds: Int? {
            guard case .refused(let nanoseconds) = self else { return nil }
            return TokenBucket.retryAfterSeconds(nanoseconds)
        }
    }

    /// Whose bucket: an `Origin` and a client address never share one, even when spelled alike.
    enum Key: Hashable {
        case origin(String)
        case client(String)
    }

    /// The settings a shard applies, and the config version they came from.
    private struct Settings: Equatable {
        var key: ProxyConfig.RateLimit.Key
        var rate: TokenBucket.Rate
        var version: Int
    }

    private struct Shard {
        var buckets: [UInt64: TokenBucket] = [:]
        var settings: Settings?
        var nextSweep: UInt64 = 0
    }

    /// The most keys held at once, over all shards.
    let maximumKeys: Int
    /// How often, at most, a shard looks for full buckets to drop.
    let sweepInterval: UInt64
    private let shards: [NIOLockedValueBox<Shard>]
    private let shardCap: Int
    private let clock: @Sendable () -> UInt64

    /// - Parameters:
    ///   - shards: How many independently locked parts; a power of two.
    ///   - maximumKeys: The hard cap on keys held.
    ///   - sweepInterval: Nanoseconds between a shard's sweeps for full buckets.
    ///   - clock: Monotonic nanoseconds; NIO's uptime clock unless a test sets the time.
    init(
        shards: Int = 16,
        maximumKeys: Int = 1 << 20,
        sweepInterval: UInt64 = 1_000_000_000,
        clock: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }
    ) {
        precondition(shards > 0 && shards & (shards - 1) == 0, "shards must be a power of two")
        self.shards = (0..<shards).map { _ in NIOLockedValueBox(Shard()) }
        self.maximumKeys = maximumKeys
        self.shardCap = max(1, maximumKeys / shards)
        self.sweepInterval = sweepInterval
        self.clock = clock
    }

    /// Spends a token of `key`'s bucket, if it has one.
    /// - Parameters:
    ///   - key: Whose bucket.
    ///   - limit: The `limits.rateLimit` of the exchange's config.
    ///   - version: That config's version: a newer one rescales the buckets to its rate once (an exchange still
    ///     pinned to an older one is judged by the newer settings).
    func take(_ key: Key, limit: ProxyConfig.RateLimit, version: Int) -> Verdict {
        var hasher = Hasher()
        hasher.combine(key)
        let hash = UInt64(bitPattern: Int64(hasher.finalize()))
        let shard = self.shards[Int(hash % UInt64(self.shards.count))]
        let now = self.clock()
        let wanted = Settings(
            key: limit.key,
            rate: TokenBucket.Rate(rate: limit.rate, burst: limit.burst),
            version: version
        )
        return shard.withLockedValue { shard in
            let rate = Self.apply(wanted, to: &shard, now: now)
            if now >= shard.nextSweep { Self.sweep(&shard, now: now, next: now + self.sweepInterval) }
            if shard.buckets[hash] == nil, shard.buckets.count >= self.shardCap {
                Self.sweep(&shard, now: now, next: now + self.sweepInterval)
                if shard.buckets.count >= self.shardCap { Self.evictOne(&shard) }
            }
            if let wait = shard.buckets[hash, default: TokenBucket()].take(now: now, rate: rate) {
                return .refused(retryAfterNanoseconds: wait)
            }
            return .admitted
        }
    }

    /// Keys held now, over all shards.
    var count: Int {
        self.shards.reduce(0) { total, shard in total + shard.withLockedValue { $0.buckets.count } }
    }

    /// The rate a shard judges by: its own, unless `wanted` comes from a newer config. A changed rate or burst
    /// rescales what each bucket owes; a changed key kind starts afresh (the old keys mean nothing now).
    private static func apply(_ wanted: Settings, to shard: inout Shard, now: UInt64) -> TokenBucket.Rate {
        guard let current = shard.settings else {
            shard.settings = wanted
            return wanted.rate
        }
        guard wanted.version > current.version else { return current.rate }
        if wanted.key != current.key {
            shard.buckets = [:]
        } else if wanted.rate != current.rate {
            // In place: a copy of a large shard would outlive the sweep that later frees it.
            var index = shard.buckets.values.startIndex
            while index != shard.buckets.values.endIndex {
                shard.buckets.values[index].rescale(now: now, from: current.rate, to: wanted.rate)
                shard.buckets.values.formIndex(after: &index)
            }
        }
        shard.settings = wanted
        return wanted.rate
    }

    /// Drops full buckets; a new, smaller dictionary gives the old storage back.
    private static func sweep(_ shard: inout Shard, now: UInt64, next: UInt64) {
        shard.nextSweep = next
        if shard.buckets.contains(where: { $0.value.isFull(at: now) }) {
            shard.buckets = shard.buckets.filter { !$0.value.isFull(at: now) }
        }
    }

    /// At the cap with nothing full: drops the fullest of the first few buckets (the order is the hash's, so
    /// effectively random).
    private static func evictOne(_ shard: inout Shard) {
        guard let victim = shard.buckets.prefix(8).min(by: { $0.value.fullAt < $1.value.fullAt }) else { return }
        shard.buckets[victim.key] = nil
    }
}

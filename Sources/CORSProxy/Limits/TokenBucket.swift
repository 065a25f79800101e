/// One key's token bucket, held as the one number GCRA needs (the generic cell rate algorithm, ITU-T I.371): the
/// moment the bucket will be full again. Eight bytes a key, and a bucket that is full needs no entry at all, so
/// ``RateLimiter`` drops those.
///
/// With `interval` = 1/rate, a bucket whose `fullAt` is `d` ahead of now holds `burst - d/interval` tokens.
struct TokenBucket: Sendable, Equatable {
    /// Monotonic nanoseconds; at or before now: full.
    var fullAt: UInt64 = 0

    /// What one request's token costs and how many a bucket holds.
    struct Rate: Sendable, Equatable {
        /// Nanoseconds per token (1/rate).
        var interval: UInt64
        var burst: UInt64

        /// - Parameters:
        ///   - rate: Tokens per second, > 0.
        ///   - burst: Capacity, ≥ 1.
        init(rate: Double, burst: Int) {
            self.interval = UInt64((1e9 / rate).rounded())
            self.burst = UInt64(burst)
        }

        /// The time a full bucket takes to empty in debt: `burst` tokens' worth.
        var capacity: UInt64 { self.burst * self.interval }
    }

    /// Takes a token if there is one.
    /// - Returns: `nil` when admitted; else the nanoseconds until the next token.
    mutating func take(now: UInt64, rate: Rate) -> UInt64? {
        let debt = self.fullAt > now ? self.fullAt - now : 0
        let after = debt + rate.interval
        guard after <= rate.capacity else { return after - rate.capacity }
        self.fullAt = now + after
        return nil
    }

    /// Whether the bucket is full at `now`: an entry for it holds nothing a new bucket would not.
    func isFull(at now: UInt64) -> Bool { self.fullAt <= now }

    /// The same tokens owed under another rate, at most a whole `burst` of it: a reload that changes `rate` or
    /// `burst` keeps what each key has spent, not the time it had left.
    mutating func rescale(now: UInt64, from old: Rate, to new: Rate) {
        guard self.fullAt > now else { return }
        let owed = Double(self.fullAt - now) / Double(old.interval)
        self.fullAt = now + UInt64(min(owed, Double(new.burst)) * Double(new.interval))
    }

    /// Whole seconds a client should wait, as `Retry-After` says them: the ceiling, and never 0.
    static func retryAfterSeconds(_ nanoseconds: UInt64) -> Int {
        max(1, Int((nanoseconds + 999_999_999) / 1_000_000_000))
    }
}

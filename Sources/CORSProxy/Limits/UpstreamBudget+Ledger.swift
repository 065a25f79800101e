extension UpstreamBudget {
    /// The budget's state machine for the tokens of one shard: what the upstream last said about each token's
    /// window, and whether the next request may spend from it. Pure: the caller passes the wall-clock time (Unix
    /// seconds) and holds the lock.
    ///
    /// A token is either unknown (no entry: its requests are forwarded) or has a ``Window``. A window refuses
    /// requests while its `remaining` is at most the route's `minimumRemaining` and its reset is ahead; once the
    /// reset passes, the entry goes and the token is unknown again. The minimum is the route's, passed to each
    /// ``admit(_:minimumRemaining:now:)``, so a reload that changes it applies to windows already counted.
    ///
    /// Requests in flight: every request admitted from a window takes one from its `remaining` at once (the
    /// upstream counts every request, 4xx included), so however many of one token's requests run concurrently,
    /// no more are admitted than the window has above the minimum. The upstream's next answer then has the
    /// last word, except that within one window (the same reset time) the count never goes back up: answers of
    /// concurrent requests arrive in any order, the lowest is the latest. A request that fails before reaching
    /// the upstream keeps its reservation until the window resets: erring towards refusing, never towards
    /// spending the last requests. A token's first requests, before any answer, are forwarded: the proxy knows
    /// nothing of its budget yet.
    struct Ledger {
        /// What the upstream last said about a token's window, less the requests admitted since.
        struct Window: Equatable {
            var remaining: Int
            /// Unix seconds.
            var resetsAt: Int64
        }

        enum Decision: Equatable {
            case forward
            /// Answer 429: the window has `remaining` requests left, no more than the minimum, until `resetsAt`
            /// (Unix seconds), `retryAfter` whole seconds from now (at least 1).
            case refuse(remaining: Int, resetsAt: Int64, retryAfter: Int)
        }

        /// The window assumed when `X-Rate-Limit-Reset` is missing, not whole Unix seconds, not ahead, or more than
        /// ``longestWindow`` ahead (milliseconds, say): 60 seconds from the answer. Long enough not to hammer an
        /// upstream that hides its reset, short enough that a garbled header costs at most a minute of 429s.
        static let fallbackWindow: Int64 = 60
        static let longestWindow: Int64 = 86_400

        /// Tokens kept at most; beyond it the windows that reset first make room.
        let capacity: Int
        private(set) var windows: [Key: Window] = [:]

        /// - Parameter capacity: The most tokens kept, at least 1.
        init(capacity: Int) {
            precondition(capacity > 0, "a ledger keeps at least one token")
            self.capacity = capacity
        }

        /// Whether a request of the token `key` may go upstream now; an admitted one is counted at once.
        mutating func admit(_ key: Key, minimumRemaining: Int, now: Double) -> Decision {
            guard var window = self.windows[key] else { return .forward }
            guard now < Double(window.resetsAt) else {
                self.windows[key] = nil
                return .forward
            }
            guard window.remaining > minimumRemaining else {
                let retryAfter = max(1, Int((Double(window.resetsAt) - now).rounded(.up)))
                return .refuse(remaining: window.remaining, resetsAt: window.resetsAt, retryAfter: retryAfter)
            }
            window.remaining -= 1
            self.windows[key] = window
            return .forward
        }

        /// Takes in an upstream answer's `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` for the token `key`.
        /// - Parameters:
        ///   - remaining: The requests the upstream says are left.
        ///   - reset: The reset as Unix seconds, `nil` when missing or not a whole number.
        ///   - now: The wall-clock time.
        mutating func observe(_ key: Key, remaining: Int, reset: Int64?, now: Double) {
            let resetsAt = Self.resetTime(reset, now: now)
            if var window = self.windows[key] {
                if window.resetsAt == resetsAt {
                    window.remaining = min(window.remaining, remaining)
                } else {
                    window = Window(remaining: remaining, resetsAt: resetsAt)
                }
                self.windows[key] = window
                return
            }
            self.makeRoom(now: now)
            self.windows[key] = Window(remaining: remaining, resetsAt: resetsAt)
        }

        /// The reset a window is kept until: `reset` when it is ahead by at most ``longestWindow``, else
        /// ``fallbackWindow`` from now.
        static func resetTime(_ reset: Int64?, now: Double) -> Int64 {
            let current = Int64(now.rounded(.down))
            if let reset, Double(reset) > now, reset - current <= Self.longestWindow { return reset }
            return current + Self.fallbackWindow
        }

        /// At capacity: drops the windows whose reset has passed, then, if none had, the one that resets first.
        private mutating func makeRoom(now: Double) {
            guard self.windows.count >= self.capacity else { return }
            self.windows = self.windows.filter { Double($0.value.resetsAt) > now }
            guard self.windows.count >= self.capacity,
                let first = self.windows.min(by: { $0.value.resetsAt < $1.value.resetsAt })
            else { return }
            self.windows[first.key] = nil
        }
    }
}

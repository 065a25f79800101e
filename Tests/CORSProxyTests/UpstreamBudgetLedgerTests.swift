import NIOConcurrencyHelpers
import NIOHTTP1
import Testing

@testable import CORSProxy

/// The upstream budget's state machine (``UpstreamBudget/Ledger``) and its shared, keyed, clocked wrapper, with
/// the wall clock injected.
@Suite("Upstream budget: ledger")
struct UpstreamBudgetLedgerTests {
    typealias Ledger = UpstreamBudget.Ledger
    static let a = UpstreamBudget.Key(high: 1, low: 1)
    static let b = UpstreamBudget.Key(high: 2, low: 2)
    static let c = UpstreamBudget.Key(high: 3, low: 3)

    @Test("unknown tokens are forwarded; at the minimum, 429 until the reset, then forwarded again")
    func thresholdUntilReset() {
        var ledger = Ledger(capacity: 16)
        #expect(ledger.admit(Self.a, minimumRemaining: 2, now: 1000) == .forward)
        ledger.observe(Self.a, remaining: 3, reset: 1010, now: 1000.2)
        #expect(ledger.admit(Self.a, minimumRemaining: 2, now: 1000.3) == .forward)
        // That request took the window to 2: no more until 1010.
        #expect(
            ledger.admit(Self.a, minimumRemaining: 2, now: 1000.4)
                == .refuse(remaining: 2, resetsAt: 1010, retryAfter: 10)
        )
        ledger.observe(Self.a, remaining: 2, reset: 1010, now: 1000.5)
        #expect(
            ledger.admit(Self.a, minimumRemaining: 2, now: 1009.95)
                == .refuse(remaining: 2, resetsAt: 1010, retryAfter: 1)
        )
        #expect(ledger.admit(Self.b, minimumRemaining: 2, now: 1005) == .forward)
        #expect(ledger.admit(Self.a, minimumRemaining: 2, now: 1010) == .forward)
        #expect(ledger.windows[Self.a] == nil)
    }

    @Test("Retry-After is the whole seconds to the reset, rounded up, at least 1")
    func retryAfterRounding() {
        var ledger = Ledger(capacity: 16)
        ledger.observe(Self.a, remaining: 0, reset: 1060, now: 1000)
        for (now, expected) in [(1000.0, 60), (1000.2, 60), (1059.0, 1), (1059.99, 1), (1030.5, 30)] {
            #expect(
                ledger.admit(Self.a, minimumRemaining: 0, now: now)
                    == .refuse(remaining: 0, resetsAt: 1060, retryAfter: expected)
            )
        }
    }

    @Test("requests in flight count at once: no more are admitted than the window has above the minimum")
    func inFlightReservation() {
        var ledger = Ledger(capacity: 16)
        ledger.observe(Self.a, remaining: 5, reset: 2000, now: 1000)
        let decisions = (0..<6).map { _ in ledger.admit(Self.a, minimumRemaining: 2, now: 1001) }
        #expect(decisions.prefix(3).allSatisfy { $0 == .forward })
        #expect(decisions.dropFirst(3).allSatisfy { $0 == .refuse(remaining: 2, resetsAt: 2000, retryAfter: 999) })
        // Their answers arrive out of order; within one window the count never goes back up.
        for remaining in [3, 2, 4] { ledger.observe(Self.a, remaining: remaining, reset: 2000, now: 1002) }
        #expect(ledger.windows[Self.a] == Ledger.Window(remaining: 2, resetsAt: 2000))
        // Another client of the same token spent more: the lower count wins.
        ledger.observe(Self.a, remaining: 1, reset: 2000, now: 1003)
        #expect(ledger.windows[Self.a]?.remaining == 1)
    }

    @Test("an answer with another reset starts a new window: its count is the upstream's word")
    func newWindow() {
        var ledger = Ledger(capacity: 16)
        ledger.observe(Self.a, remaining: 1, reset: 1010, now: 1000)
        ledger.observe(Self.a, remaining: 599, reset: 4600, now: 1001)
        #expect(ledger.windows[Self.a] == Ledger.Window(remaining: 599, resetsAt: 4600))
        #expect(ledger.admit(Self.a, minimumRemaining: 10, now: 1002) == .forward)
    }

    @Test("a missing, past or implausibly far reset counts as 60 seconds from the answer")
    func fallbackReset() {
        #expect(Ledger.resetTime(1030, now: 1000.5) == 1030)
        #expect(Ledger.resetTime(nil, now: 1000.5) == 1060)
        #expect(Ledger.resetTime(1000, now: 1000.5) == 1060)
        #expect(Ledger.resetTime(900, now: 1000.5) == 1060)
        #expect(Ledger.resetTime(1000 + 86_400, now: 1000) == 1000 + 86_400)
        #expect(Ledger.resetTime(1_466_182_244_000, now: 1_466_182_000) == 1_466_182_060)
        var ledger = Ledger(capacity: 16)
        ledger.observe(Self.a, remaining: 0, reset: nil, now: 1000.5)
        #expect(
            ledger.admit(Self.a, minimumRemaining: 0, now: 1001)
                == .refuse(remaining: 0, resetsAt: 1060, retryAfter: 59)
        )
    }

    @Test("the minimum is the caller's: a reload that changes it applies to windows already counted")
    func minimumPerCall() {
        var ledger = Ledger(capacity: 16)
        ledger.observe(Self.a, remaining: 5, reset: 2000, now: 1000)
        #expect(
            ledger.admit(Self.a, minimumRemaining: 5, now: 1001)
                == .refuse(remaining: 5, resetsAt: 2000, retryAfter: 999)
        )
        #expect(ledger.admit(Self.a, minimumRemaining: 4, now: 1001) == .forward)
    }

    @Test("bounded: at capacity, windows whose reset passed go first, then the one that resets first")
    func capacity() {
        var ledger = Ledger(capacity: 2)
        ledger.observe(Self.a, remaining: 0, reset: 1010, now: 1000)
        ledger.observe(Self.b, remaining: 0, reset: 1020, now: 1000)
        ledger.observe(Self.c, remaining: 0, reset: 1030, now: 1001)
        #expect(Set(ledger.windows.keys) == [Self.b, Self.c])
        // At 1015 b and c still hold: b, the first to reset, makes room.
        ledger.observe(Self.a, remaining: 0, reset: 1040, now: 1015)
        #expect(Set(ledger.windows.keys) == [Self.c, Self.a])
        // Both c and a have passed by 1045: both go, and only the newcomer is kept.
        ledger.observe(Self.b, remaining: 0, reset: 1100, now: 1045)
        #expect(Set(ledger.windows.keys) == [Self.b])
    }

    @Test("keys: one per Authorization value and upstream, none without Authorization, a new secret per budget")
    func keys() {
        let budget = UpstreamBudget()
        func headers(_ authorization: String?) -> HTTPHeaders {
            authorization.map { HTTPHeaders([("Authorization", $0)]) } ?? HTTPHeaders()
        }
        let one = budget.key(for: headers("Bearer one"), upstream: "https://api.example.com")
        #expect(one != nil)
        #expect(one == budget.key(for: headers("Bearer one"), upstream: "https://api.example.com"))
        #expect(one != budget.key(for: headers("Bearer two"), upstream: "https://api.example.com"))
        #expect(one != budget.key(for: headers("Bearer one"), upstream: "https://login.example.com"))
        #expect(budget.key(for: headers(nil), upstream: "https://api.example.com") == nil)
        #expect(one != UpstreamBudget().key(for: headers("Bearer one"), upstream: "https://api.example.com"))
    }

    @Test("the shared budget reads its injected clock and keeps its shards bounded")
    func sharedBudget() throws {
        let now = NIOLockedValueBox(1000.0)
        let budget = UpstreamBudget(capacity: UpstreamBudget.shardCount, clock: { now.withLockedValue { $0 } })
        let key = try #require(budget.key(for: HTTPHeaders([("Authorization", "Bearer x")]), upstream: "https://a"))
        budget.observe(key, remaining: 1, reset: 1003)
        #expect(budget.admit(key, minimumRemaining: 1) == .refuse(remaining: 1, resetsAt: 1003, retryAfter: 3))
        now.withLockedValue { $0 = 1003 }
        #expect(budget.admit(key, minimumRemaining: 1) == .forward)
        for index in 0..<200 {
            let other = try #require(
                budget.key(for: HTTPHeaders([("Authorization", "Bearer \(index)")]), upstream: "https://a")
            )
            budget.observe(other, remaining: 0, reset: 2000)
        }
        #expect(budget.count == UpstreamBudget.shardCount)
    }
}

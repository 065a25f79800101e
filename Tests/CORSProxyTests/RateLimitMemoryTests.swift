import Foundation
import Testing

@testable import CORSProxy

/// The rate limiter's memory for a million distinct keys, measured as this process's resident memory (VmRSS from
/// /proc) around a ``RateLimiter`` used directly, on a clock the test sets: a million requests through the debug
/// proxy take minutes (about 4,700 a second here), so this runs in-process. `Rate limiter`'s eviction test covers
/// the sweep's logic; here, that its memory goes back. Timed (Makefile TIMED_SUITES): other suites beside it
/// would move the RSS it measures.
@Suite("Rate limit memory", .serialized)
struct RateLimitMemoryTests {
    /// VmRSS of this process, in MiB.
    static func residentMiB() throws -> Double {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        let kib = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? 0
        return kib / 1024
    }

    /// glibc keeps freed heap pages until asked; `malloc_trim(0)` returns them, so that RSS shows what is in use.
    static func trimHeap() {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
    }

    @Test("a million keys add at most 64 MiB, and the memory comes back once their buckets are full again")
    func millionKeys() throws {
        let clock = RateLimiterTests.ManualClock()
        let limiter = RateLimiter(clock: { clock.now })
        let limit = ProxyConfig.RateLimit(key: .client, rate: 0.001, burst: 1)
        func address(_ index: Int) -> String {
            "10.\(index >> 16 & 255).\(index >> 8 & 255).\(index & 255)"
        }
        Self.trimHeap()
        let before = try Self.residentMiB()
        for index in 0..<1_000_000 {
            #expect(limiter.take(.client(address(index)), limit: limit, version: 1) == .admitted)
        }
        #expect(limiter.count == 1_000_000)
        let full = try Self.residentMiB()
        // 1000 s later every bucket is full again; each shard sweeps when next used.
        clock.advance(seconds: 1001)
        for index in 0..<1000 { _ = limiter.take(.client("192.0.2.\(index)"), limit: limit, version: 1) }
        #expect(limiter.count == 1000)
        Self.trimHeap()
        let after = try Self.residentMiB()
        let (added, kept) = (full - before, after - before)
        print("rate limit memory: 1M keys +\(Int(added)) MiB RSS, after eviction +\(Int(kept)) MiB")
        #expect(added <= 64, "1M keys added \(added) MiB")
        #expect(kept <= added / 4, "\(kept) MiB of \(added) MiB still held after eviction")
    }
}

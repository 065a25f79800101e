import Foundation
import Testing

@testable import CORSProxy

/// The inspector ring's memory under a stream of exchanges, measured as this process's resident set: it runs in
/// the serial pass of `make swift-test` (the Makefile's `TIMED_SUITES`), since tests running beside it would move
/// the figure it measures.
@Suite("Inspector ring memory")
struct InspectorRingMemoryTests {
    /// The process's resident set, in bytes.
    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = Int(statm.split(separator: " ").dropFirst().first ?? "") ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test("100,000 exchanges: the ring holds its capacity, and memory after 100,000 is what it was after 20,000")
    func bounded() {
        let ring = InspectorRing(capacity: 1_000)
        for index in 0..<20_000 { ring.record(InspectorRingTests.record(index)) }
        #expect(ring.count == 1_000)
        let after20k = Self.residentBytes()
        for index in 20_000..<100_000 { ring.record(InspectorRingTests.record(index)) }
        #expect(ring.count == 1_000)
        let after100k = Self.residentBytes()
        // Kept, the 80,000 records between would be about 100 MB (over 1 KB each).
        print("inspector ring: RSS after 20,000 exchanges \(after20k >> 20) MiB, after 100,000 \(after100k >> 20) MiB")
        #expect(after100k - after20k < 8 << 20, "RSS \(after20k) → \(after100k)")
        let (entries, missed) = ring.entries(after: 0, limit: 10)
        #expect(missed == 99_000)
        #expect(entries.first?.sequence == 99_001)
        #expect(ring.entries(after: 100_000, limit: 10).entries.isEmpty)
        #expect(ring.entry(id: InspectorRingTests.record(0).requestID.description) == nil)
    }
}

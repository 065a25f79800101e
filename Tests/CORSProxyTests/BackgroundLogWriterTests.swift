import CORSProxy
import Foundation
import NIOConcurrencyHelpers
import Testing

/// The access log's writer thread: every line from every event loop arrives once and whole, and lines it must drop
/// are counted in the output, never lost silently. Under ThreadSanitizer (`make tsan`) the first test is also the
/// check that the buffer's lock is one the sanitizer can see.
@Suite("Background log writer")
struct BackgroundLogWriterTests {
    /// `count` lines from each of `writers` threads, all at once: `"<writer> <index> <padding>\n"`.
    static func writeConcurrently(to writer: BackgroundLogWriter, writers: Int, count: Int, padding: Int) {
        let group = DispatchGroup()
        for id in 0..<writers {
            group.enter()
            Thread.detachNewThread {
                let pad = String(repeating: "x", count: padding)
                for index in 0..<count { writer.write(Array("\(id) \(index) \(pad)\n".utf8)) }
                group.leave()
            }
        }
        group.wait()
    }

    /// Reads `handle` to its end on a thread of its own; the function returned waits for the bytes. (The writer's
    /// `close()` blocks, so the tests run off the cooperative pool, which has a thread per core.)
    static func readToEnd(_ handle: FileHandle) -> @Sendable () -> String {
        let output = NIOLockedValueBox(Data())
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let data = handle.readDataToEndOfFile()
            output.withLockedValue { $0 = data }
            done.signal()
        }
        return {
            done.wait()
            return String(decoding: output.withLockedValue { $0 }, as: UTF8.self)
        }
    }

    /// The line indexes each writer's lines carried, in the order they arrived.
    static func indexes(in output: String, writers: Int) throws -> [[Int]] {
        var seen = Array(repeating: [Int](), count: writers)
        for line in output.split(separator: "\n") where !line.hasPrefix("corsproxy:") {
            let fields = line.split(separator: " ")
            let id = try #require(fields.count == 3 ? Int(fields[0]) : nil, "a torn line: \(line)")
            seen[id].append(try #require(Int(fields[1])))
        }
        return seen
    }

    @Test("lines from eight threads at once all arrive, whole and each thread's in order")
    func concurrentWriters() async throws {
        let pipe = Pipe()
        let output = Self.readToEnd(pipe.fileHandleForReading)
        let text = try await offCooperativePool {
            let writer = BackgroundLogWriter(descriptor: pipe.fileHandleForWriting.fileDescriptor)
            Self.writeConcurrently(to: writer, writers: 8, count: 2_000, padding: 40)
            writer.close()
            try pipe.fileHandleForWriting.close()
            return output()
        }
        #expect(!text.contains("dropped"))
        for lines in try Self.indexes(in: text, writers: 8) { #expect(lines == Array(0..<2_000)) }
    }

    @Test("while the descriptor cannot keep up, lines beyond the limit are dropped and their count is written")
    func droppedLinesAreCounted() async throws {
        let pipe = Pipe()
        let text = try await offCooperativePool {
            let writer = BackgroundLogWriter(descriptor: pipe.fileHandleForWriting.fileDescriptor)
            // Nothing reads yet: the pipe fills (64 KiB), the thread blocks in write(2), and 30 MB cannot fit in
            // the 8 MiB it may keep pending.
            Self.writeConcurrently(to: writer, writers: 1, count: 300_000, padding: 90)
            let output = Self.readToEnd(pipe.fileHandleForReading)
            writer.close()
            writer.write(Array("0 300000 after-close\n".utf8))
            try pipe.fileHandleForWriting.close()
            return output()
        }

        let notes = text.split(separator: "\n").filter { $0.hasPrefix("corsproxy:") }
        let dropped = try notes.map { note in
            try #require(note.wholeMatch(of: /corsproxy: (\d+) access log lines dropped: .+/).flatMap { Int($0.1) })
        }
        let received = try #require(try Self.indexes(in: text, writers: 1).first)
        #expect(dropped.reduce(0, +) > 0)
        #expect(received.count + dropped.reduce(0, +) == 300_000)
        #expect(received == received.sorted() && Set(received).count == received.count)
        #expect(received.first == 0)
    }
}

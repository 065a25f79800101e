internal import CurlBridge
internal import Dispatch
internal import NIOConcurrencyHelpers

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Where access log lines go: standard error through a ``BackgroundLogWriter``, or a test's collector.
public protocol LogDestination: Sendable {
    /// Takes one line (or a line and its indented follow-up lines) in UTF-8, newline included. Called on event
    /// loops: must not block.
    func write(_ line: [UInt8])
}

/// Writes lines to a file descriptor from its own thread: an event loop only appends to a buffer, and the
/// thread writes whatever has gathered in one `write(2)`, so a slow terminal or pipe never stalls a request.
///
/// The thread is woken by the first line into an empty buffer, then lets lines gather for ``gathering`` before it
/// takes them: under load that is one wake-up and one `write(2)` per interval instead of one per request, which
/// is most of what a log line costs (a line reaches the descriptor at most that much later).
///
/// The buffer is bounded: while the descriptor cannot keep up with more than ``limit`` bytes pending, lines
/// are dropped and counted, and the count is written once the writer catches up: nothing is lost silently.
public final class BackgroundLogWriter: LogDestination {
    private struct Pending {
        var bytes: [UInt8] = []
        var dropped = 0
        var isClosed = false
    }

    /// Pending bytes beyond which lines are dropped.
    static let limit = 8 << 20
    /// How long lines gather after the first one wakes the thread.
    static let gathering: UInt32 = 10_000  // microseconds

    private let descriptor: Int32
    /// A pthread mutex, as everywhere else in the proxy: ThreadSanitizer intercepts it. It cannot see into
    /// `Synchronization.Mutex`, whose futex word is handled by the uninstrumented standard library, and so
    /// reported every two event loops' lines as a race.
    private let pending = NIOLockedValueBox(Pending())
    /// Signalled when the buffer goes from empty to not, or on close.
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the writing thread.
    /// - Parameter descriptor: Where to write; standard error by default.
    public init(descriptor: Int32 = 2) {
        self.descriptor = descriptor
        DetachedThread.start { [self] in self.run() }
    }

    public func write(_ line: [UInt8]) {
        let wasEmpty = self.pending.withLockedValue { pending -> Bool in
            guard !pending.isClosed else { return false }
            guard pending.bytes.count + line.count <= Self.limit else {
                pending.dropped += 1
                return false
            }
            let wasEmpty = pending.bytes.isEmpty
            pending.bytes.append(contentsOf: line)
            return wasEmpty
        }
        if wasEmpty { self.wake.signal() }
    }

    /// Writes what is pending and stops the thread; later lines are dropped. Blocks until done: call it once
    /// the server has stopped.
    public func close() {
        let alreadyClosed = self.pending.withLockedValue { pending in
            defer { pending.isClosed = true }
            return pending.isClosed
        }
        guard !alreadyClosed else { return }
        self.wake.signal()
        self.finished.wait()
    }

    private func run() {
        var batch: [UInt8] = []
        while true {
            self.wake.wait()
            if !self.pending.withLockedValue({ $0.isClosed }) { usleep(Self.gathering) }
            let (dropped, isClosed) = self.pending.withLockedValue { pending in
                swap(&batch, &pending.bytes)
                defer { pending.dropped = 0 }
                return (pending.dropped, pending.isClosed)
            }
            if dropped > 0 {
                batch.append(
                    contentsOf: "corsproxy: \(dropped) access log lines dropped: standard error could not keep up\n"
                        .utf8
                )
            }
            self.writeAll(batch)
            batch.removeAll(keepingCapacity: true)
            if isClosed {
                self.finished.signal()
                return
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(self.descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // the descriptor is gone: nothing useful to do with the lines
                }
            }
        }
    }
}

/// `write(2)`, named apart from ``LogDestination/write(_:)``.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOPosix

#if canImport(Glibc)
internal import Glibc
#endif

/// Tells when the config file may have changed, with inotify on the directories that hold it.
///
/// **Why the directory, not the file.** Editors (vim, `sed -i`) and `mv` replace a file by renaming a new one over
/// it, and a Kubernetes ConfigMap volume swaps a `..data` symlink: `proxy.json` is a link to `..data/proxy.json`,
/// and an update renames a new `..data` over the old one, in the same directory. A watch on the file itself would
/// follow the old inode and go quiet; a watch on its directory sees the rename. The watcher therefore watches the
/// config file's directory (for the file's own name, and for the first component of its symlink's target, such as
/// `..data`) and the directory of what the path resolves to now (for rewrites in place through a link). After each
/// change it resolves the path again and adds a watch for a directory it now leads to; a directory that goes away
/// drops its watch by itself (`IN_IGNORED`).
///
/// **Debounce.** One save is a burst of events (create, modify, close, move). The watcher reports once the burst has
/// been quiet for ``quietPeriod`` (50 ms), or ``maximumDelay`` (500 ms) after its first event if writes go on. A
/// report says only "look again": ``ConfigReloader`` reads the file and skips content it has tried already, so a
/// half-written file that does not parse is refused once, then retried when its next write comes.
///
/// Why not ``CertificateStore``'s `stat` polling: polling costs up to a second of delay, and the config is where a
/// change should show at once; inotify reports within milliseconds. The TLS files stay with their store.
///
/// The blocking `poll(2)`/`read(2)` loop runs on a thread of its own (an `NIOThreadPool` of one), never on the
/// cooperative pool; changes reach ``run(onChange:)``'s task through an `AsyncStream`. Linux only: elsewhere, or if
/// inotify cannot be set up, it logs why and reports nothing (`SIGHUP` still reloads).
///
/// The watches are set up by ``init(path:logger:)``, which `serve` calls before it prints the ready line, so a
/// change written the moment the proxy is ready is seen; ``run(onChange:)`` reads the events.
final class ConfigFileWatcher: Sendable {
    let path: String
    let logger: Logger
    let quietPeriod: Duration = .milliseconds(50)
    let maximumDelay: Duration = .milliseconds(500)
    /// The inotify descriptor, -1 when it could not be set up; closed by ``run(onChange:)`` when it ends.
    private let descriptor: Int32
    /// The names that matter in each watched directory, by watch descriptor. The lock is uncontended: only
    /// ``init(path:logger:)`` and then the watcher's thread touch it.
    private let names = NIOLockedValueBox<[Int32: Set<String>]>([:])

    /// Sets up the watches now.
    init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
        #if canImport(Glibc)
        self.descriptor = inotify_init1(Int32(IN_CLOEXEC))
        #else
        self.descriptor = -1
        #endif
        guard self.descriptor >= 0 else {
            logger.warning(
                "cannot watch the config file; reload with SIGHUP",
                metadata: ["config.file": "\(path)", "error": "inotify_init1: errno \(errno)"]
            )
            return
        }
        self.arm()
        if self.names.withLockedValue({ $0.isEmpty }) {
            logger.warning(
                "cannot watch the config file; reload with SIGHUP",
                metadata: ["config.file": "\(path)", "error": "inotify_add_watch: errno \(errno)"]
            )
        }
    }

    /// Adds a watch for each directory the path leads through now (a directory watched already keeps its watch).
    private func arm() {
        #if canImport(Glibc)
        for (directory, wanted) in Self.targets(of: self.path) {
            let mask = UInt32(IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE)
            let watch = inotify_add_watch(self.descriptor, directory, mask)
            if watch >= 0 { self.names.withLockedValue { $0[watch, default: []].formUnion(wanted) } }
        }
        #endif
    }

    /// Calls `onChange` after each settled burst of events, one call at a time, until the task is cancelled.
    func run(onChange: @Sendable () async -> Void) async {
        guard self.descriptor >= 0 else { return }
        let (changes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let isStopped = NIOLockedValueBox(false)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let loop = Task {
            try? await pool.runIfActive {
                self.watch(isStopped: isStopped) { continuation.yield() }
                continuation.finish()
            }
        }
        await withTaskCancellationHandler {
            for await _ in changes { await onChange() }
        } onCancel: {
            isStopped.withLockedValue { $0 = true }
            continuation.finish()
        }
        await loop.value
        try? await pool.shutdownGracefully()
        #if canImport(Glibc)
        close(self.descriptor)
        #endif
    }

    /// The blocking loop: returns when `isStopped` is set (checked at least every 200 ms) or inotify fails.
    private func watch(isStopped: NIOLockedValueBox<Bool>, changed: () -> Void) {
        #if canImport(Glibc)
        let descriptor = self.descriptor
        var burst: (first: ContinuousClock.Instant, last: ContinuousClock.Instant)?
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !isStopped.withLockedValue({ $0 }) {
            var timeout = Duration.milliseconds(200)
            if let burst {
                let now = ContinuousClock.now
                timeout = min(burst.last + self.quietPeriod - now, burst.first + self.maximumDelay - now)
            }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = max(0, Int32(timeout / .milliseconds(1)))
            if poll(&poller, 1, milliseconds) > 0 {
                let count = read(descriptor, &buffer, buffer.count)
                guard count > 0 || errno == EINTR else { return }
                let isRelevant = self.names.withLockedValue { Self.events(in: buffer[..<max(count, 0)], names: &$0) }
                if isRelevant {
                    let now = ContinuousClock.now
                    burst = (burst?.first ?? now, now)
                }
            }
            if let settled = burst {
                let now = ContinuousClock.now
                if now >= settled.last + self.quietPeriod || now >= settled.first + self.maximumDelay {
                    burst = nil
                    self.arm()
                    changed()
                }
            }
        }
        #endif
    }

    #if canImport(Glibc)
    /// Walks the `inotify_event` records in `bytes` (`wd`, `mask`, `cookie`, `len`, then `len` bytes of
    /// NUL-padded name); drops the watches the kernel removed.
    /// - Returns: Whether any event names a file the config path goes through.
    private static func events(in bytes: ArraySlice<UInt8>, names: inout [Int32: Set<String>]) -> Bool {
        var isRelevant = false
        var offset = bytes.startIndex
        func field(_ at: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
        }
        while offset + 16 <= bytes.endIndex {
            let watch = Int32(bitPattern: field(offset))
            let mask = field(offset + 4)
            let length = Int(field(offset + 12))
            let nameBytes = bytes[(offset + 16)..<min(offset + 16 + length, bytes.endIndex)].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            offset += 16 + length
            if mask & UInt32(IN_IGNORED) != 0 {
                names[watch] = nil
            } else if names[watch]?.contains(name) ?? false {
                isRelevant = true
            }
        }
        return isRelevant
    }
    #endif

    /// The directories to watch for `path` and the names in each that matter: the path's own directory with its
    /// file name (and the first component of a relative symlink target, `..data` in a ConfigMap volume), and the
    /// directory of the file it resolves to with that file's name.
    static func targets(of path: String) -> [String: Set<String>] {
        let directory = ProxyConfig.directory(of: path)
        var targets = [directory: Set([Self.lastComponent(of: path)])]
        #if canImport(Glibc)
        var link = [CChar](repeating: 0, count: 4096)
        let length = readlink(path, &link, link.count - 1)
        if length > 0 {
            let target = String(decoding: link[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !target.hasPrefix("/"), let first = target.split(separator: "/").first {
                targets[directory, default: []].insert(String(first))
            }
        }
        if let resolved = realpath(path, nil) {
            let real = String(cString: resolved)
            free(resolved)
            targets[ProxyConfig.directory(of: real), default: []].insert(Self.lastComponent(of: real))
        }
        #endif
        return targets
    }

    private static func lastComponent(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

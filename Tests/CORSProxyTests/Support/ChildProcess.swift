import CSpawn
import Foundation
import NIOConcurrencyHelpers

/// A program the tests run as a child process (curl, nginx, `corsproxy`, promtool…), started with `posix_spawn`.
///
/// Not Foundation's `Process`: on Linux its `run()` intermittently crashes the whole test process, a buffer
/// over-read in `findMaximumOpenFromProcSelfFD()` (swiftlang/swift-corelibs-foundation#5472). As with `Process`,
/// the child gets a process group of its own. Unlike it, the child starts with no signal blocked and every signal
/// at its default (the test process ignores SIGPIPE), and with every descriptor above 2 closed, so no child holds
/// another's pipe open.
///
/// A thread of its own per child waits for the exit without reaping the child (`WNOWAIT`), then reaps it under
/// the lock that signals are sent under: a signal never reaches a pid the system has given to another process.
final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    enum Stream: Sendable {
        /// The test process's own.
        case inherit
        /// `/dev/null`.
        case nullDevice
        /// A descriptor of the test process, which stays open there.
        case fileDescriptor(Int32)
        /// A file: read as standard input; created or truncated for output.
        case file(String)
        /// A pipe, whose other end is ``standardInput``, ``standardOutput`` or ``standardError``.
        case pipe
    }

    let pid: pid_t
    /// The write end of the standard-input pipe, with `.pipe`.
    let standardInput: FileHandle?
    /// The read end of the standard-output pipe, with `.pipe`.
    let standardOutput: FileHandle?
    /// The read end of the standard-error pipe, with `.pipe`.
    let standardError: FileHandle?
    private let exit = NIOLockedValueBox(Exit())

    private struct Exit {
        /// Set once, when the child has been reaped.
        var status: Int32?
        var waiters: [@Sendable (Int32) -> Void] = []
    }

    /// Starts `executable` (a path; no `PATH` search) with `arguments`.
    /// - Parameters:
    ///   - environment: The child's whole environment; `nil` for the test process's.
    ///   - standardInput: Where the child's standard input comes from.
    ///   - standardOutput: Where the child's standard output goes.
    ///   - standardError: Where the child's standard error goes.
    init(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String]? = nil,
        standardInput: Stream = .inherit,
        standardOutput: Stream = .inherit,
        standardError: Stream = .inherit
    ) throws {
        var actions = posix_spawn_file_actions_t()
        try Self.check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init")
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Files, /dev/null and the child's ends of pipes: the parent's copies close once the child has its own.
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        var testEnds: [Int32: FileHandle] = [:]
        for (target, stream) in [
            (STDIN_FILENO, standardInput), (STDOUT_FILENO, standardOutput), (STDERR_FILENO, standardError),
        ] {
            let source: Int32
            switch stream {
            case .inherit:
                continue
            case .fileDescriptor(let fd):
                source = fd
            case .nullDevice:
                source = try Self.open("/dev/null", O_RDWR)
                childEnds.append(source)
            case .file(let path):
                source = try Self.open(path, target == STDIN_FILENO ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC)
                childEnds.append(source)
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard cspawn_pipe_cloexec(&fds) == 0 else { throw TestFailure("pipe2: \(Self.error(errno))") }
                let (childEnd, testEnd) = target == STDIN_FILENO ? (fds[0], fds[1]) : (fds[1], fds[0])
                source = childEnd
                childEnds.append(childEnd)
                testEnds[target] = FileHandle(fileDescriptor: testEnd, closeOnDealloc: true)
            }
            try Self.check(posix_spawn_file_actions_adddup2(&actions, source, target), "adddup2")
        }
        try Self.check(cspawn_file_actions_addclosefrom(&actions, STDERR_FILENO + 1), "addclosefrom_np")

        var attributes = posix_spawnattr_t()
        try Self.check(posix_spawnattr_init(&attributes), "posix_spawnattr_init")
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        try Self.check(posix_spawnattr_setsigmask(&attributes, &none), "setsigmask")
        try Self.check(posix_spawnattr_setsigdefault(&attributes, &all), "setsigdefault")
        try Self.check(posix_spawnattr_setpgroup(&attributes, 0), "setpgroup")
        let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP
        try Self.check(posix_spawnattr_setflags(&attributes, Int16(flags)), "setflags")

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let envp =
            (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for variable in envp { free(variable) } }
        var spawned = pid_t()
        try Self.check(
            posix_spawn(&spawned, executable, &actions, &attributes, argv, envp),
            "posix_spawn \(executable)"
        )

        let pid = spawned
        self.pid = pid
        self.standardInput = testEnds[STDIN_FILENO]
        self.standardOutput = testEnds[STDOUT_FILENO]
        self.standardError = testEnds[STDERR_FILENO]
        let exit = self.exit
        Thread.detachNewThread { Self.reap(pid, into: exit) }
    }

    /// Whether the child has not been reaped yet.
    var isRunning: Bool { self.exit.withLockedValue { $0.status == nil } }

    /// SIGTERM.
    func terminate() { self.send(SIGTERM) }

    /// SIGINT.
    func interrupt() { self.send(SIGINT) }

    /// SIGKILL.
    func kill() { self.send(SIGKILL) }

    /// Sends `signal`, unless the child has exited already.
    func send(_ signal: Int32) {
        self.exit.withLockedValue { exit in
            if exit.status == nil { _ = Glibc.kill(self.pid, signal) }
        }
    }

    /// Waits for the exit: the exit status, or 128 + the signal that ended the child (as a shell reports it).
    func waitForExit() async -> Int32 {
        await withCheckedContinuation { continuation in
            self.onExit { continuation.resume(returning: $0) }
        }
    }

    /// ``waitForExit()`` for at most `timeout` (or until the task is cancelled): after that, SIGKILL, and once the
    /// child is gone, `nil`.
    func waitForExit(killingAfter timeout: Duration) async -> Int32? {
        await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await self.waitForExit() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { self.kill() }
            group.cancelAll()
            return first
        }
    }

    /// Blocks the calling thread until the child has exited: for clean-up in a `defer`, where `await` is not
    /// allowed, after ``kill()`` or ``terminate()``.
    func waitUntilExit() {
        let exited = DispatchSemaphore(value: 0)
        self.onExit { _ in exited.signal() }
        exited.wait()
    }

    /// Calls `waiter` with the status once the child has been reaped (at once if it has).
    private func onExit(_ waiter: @escaping @Sendable (Int32) -> Void) {
        let status = self.exit.withLockedValue { exit in
            if exit.status == nil { exit.waiters.append(waiter) }
            return exit.status
        }
        if let status { waiter(status) }
    }

    /// The waiting thread's body: blocks until `pid` has exited, reaps it, hands its status to the waiters.
    private static func reap(_ pid: pid_t, into exit: NIOLockedValueBox<Exit>) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            precondition(errno == EINTR, "waitid(\(pid)): \(Self.error(errno))")
        }
        let (status, waiters) = exit.withLockedValue { exit in
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1 {
                precondition(errno == EINTR, "waitpid(\(pid)): \(Self.error(errno))")
            }
            // WIFEXITED, WEXITSTATUS and WTERMSIG are macros Swift does not import: the low 7 bits are the signal
            // (0 for a normal exit), the next 8 the exit status.
            let signal = raw & 0x7f
            let status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            exit.status = status
            defer { exit.waiters = [] }
            return (status, exit.waiters)
        }
        for waiter in waiters { waiter(status) }
    }

    private static func open(_ path: String, _ flags: Int32) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestFailure("open \(path): \(Self.error(errno))") }
        return fd
    }

    /// Throws on a nonzero result of a call that returns an error number (as the posix_spawn family does).
    private static func check(_ result: Int32, _ call: String) throws {
        guard result == 0 else { throw TestFailure("\(call): \(Self.error(result))") }
    }

    private static func error(_ number: Int32) -> String {
        String(cString: strerror(number))
    }
}

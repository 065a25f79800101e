public import FoundationEssentials
public import Logging
internal import NIOConcurrencyHelpers
public import ServiceLifecycle
public import UnixSignals

/// Reads the config file again and puts it in force without a restart: on `SIGHUP`, when the file changes
/// (``ConfigFileWatcher``), or when ``reload(trigger:)`` is called (the admin listener's `POST /reload`).
///
/// A reload checks the file exactly as `serve` does at start (``ProxyConfig/load(path:)``, the `--listen`
/// override, ``ProxyConfig/lint()``). An invalid file is refused: every problem is logged, one line each with its
/// key path, and returned; the config in force keeps serving. A valid one becomes a new ``ConfigSnapshot``, one
/// version up, swapped in whole (``ConfigStore/replace(with:)``): each exchange pinned the snapshot current when
/// its head arrived, so a request is served wholly by one version, requests in flight (downloads, uploads,
/// streams) finish on theirs, and kept-alive connections take the new one at their next request. The log says
/// what changed (``ConfigChanges``); what a running listener cannot take (`listen`, `tls`) is logged as needing a
/// restart and left as it is, while the rest of the file applies.
///
/// Reloads never overlap: ``StateMachine`` makes triggers that arrive during a reload wait for one more round
/// after it. A reload is a few file reads and microseconds of parsing, done on the calling task.
///
/// Thread-safe: every member may be called from any task.
public final class ConfigReloader: Service, Sendable {
    /// What started a reload, named in its log lines (`config.trigger`).
    public enum Trigger: String, Sendable, Hashable {
        /// `SIGHUP`.
        case signal = "SIGHUP"
        /// The config file changed (``ConfigFileWatcher``). Content already tried is not tried again.
        case fileChange = "file"
        /// ``reload(trigger:)`` from code: the admin listener's `POST /reload`.
        case request = "request"
    }

    /// What one reload did, for `POST /reload` to return.
    public struct Result: Sendable, Hashable {
        public enum Outcome: String, Sendable, Hashable {
            /// A new version is in force.
            case applied
            /// The file is valid and nothing that a reload applies changed (``Result/changes`` may still list
            /// what needs a restart).
            case unchanged
            /// The file is invalid; the version in force keeps serving.
            case refused
        }

        public var outcome: Outcome
        /// The version in force after the reload.
        public var version: Int
        /// One line per change, `key.path: what changed`; those not applied end in `(needs a restart; not
        /// applied)`. Empty when refused or unchanged.
        public var changes: [String]
        /// One line per problem of a refused file, `key.path: message`. Empty unless refused.
        public var problems: [String]
        /// ``ProxyConfig/lint()``'s warnings about a valid file, as `serve` prints them at start.
        public var warnings: [String]
    }

    /// The reloads so far, for metrics (`corsproxy_config_reloads_total{result}`) and `/config`.
    public struct Status: Sendable, Hashable {
        /// The version in force: 1 at start, one more per applied reload.
        public var version = 1
        /// Reloads of a valid file (applied or unchanged).
        public var succeeded = 0
        /// Reloads refused because the file was invalid or unreadable.
        public var failed = 0
        /// When a reload last succeeded.
        public var lastSuccess: Date?
        /// When a reload was last refused.
        public var lastFailure: Date?
    }

    /// The config file, as given to `serve --config`.
    public let path: String
    let listenOverride: ListenAddress?
    let store: ConfigStore
    /// The server's metrics, with an admin listener: reloads are counted there too.
    let metrics: ProxyMetrics?
    /// Set up by ``init``, before `serve` says it is ready; read by ``run()``.
    private let watcher: ConfigFileWatcher?
    private let signals: UnixSignalsSequence?
    let logger: Logger

    struct State {
        var machine = StateMachine()
        /// Waiting for the round that runs now.
        var round: [CheckedContinuation<Result, Never>] = []
        /// Waiting for the round after it.
        var nextRound: [CheckedContinuation<Result, Never>] = []
        /// What the file held when last read, so the watcher does not try the same content twice.
        var lastContent: Data?
        /// The `listen` of the file last read that was valid, before any `--listen` override.
        var fileListen: ListenAddress?
        var status = Status()
    }

    let state = NIOLockedValueBox(State())

    /// - Parameters:
    ///   - server: The server whose config is reloaded.
    ///   - path: The config file.
    ///   - listenOverride: `serve --listen`, applied to every reloaded config as at start, so that it is no change.
    ///   - watchesFile: Whether ``run()`` watches the file; the watches are set up here, so that a change made
    ///     once the caller has reported ready is seen.
    ///   - signals: Signals ``run()`` reloads on: `SIGHUP` in `serve`. Created by the caller before it reports
    ///     ready, since creating the sequence is what stops the signal's default action (ending the process).
    ///   - logger: For the reload's lines.
    public init(
        server: ProxyServer,
        path: String,
        listenOverride: ListenAddress?,
        watchesFile: Bool = true,
        signals: UnixSignalsSequence? = nil,
        logger: Logger
    ) {
        self.path = path
        self.listenOverride = listenOverride
        self.store = server.store
        self.metrics = server.metrics
        self.watcher = watchesFile ? ConfigFileWatcher(path: path, logger: logger) : nil
        self.signals = signals
        self.logger = logger
        self.state.withLockedValue { state in
            state.lastContent = FileManager.default.contents(atPath: path)
            state.fileListen = state.lastContent.flatMap { try? ProxyConfig.parse($0) }?.listen
            state.status.version = server.store.current.version
        }
    }

    /// Counters and the version in force.
    public var status: Status {
        self.state.withLockedValue { $0.status }
    }

    /// Watches the file and the signals until graceful shutdown.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            if let watcher = self.watcher {
                group.addTask { await watcher.run { _ = await self.reload(trigger: .fileChange) } }
            }
            if let signals = self.signals {
                group.addTask {
                    for await _ in signals.cancelOnGracefulShutdown() { _ = await self.reload(trigger: .signal) }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Reads the file and applies it, or refuses it; returns once done. A call while a reload runs waits for
    /// the one after it, which reads the file afresh.
    /// - Parameter trigger: What asked, for the log; ``Trigger/fileChange`` skips content already tried.
    /// - Returns: What happened; ``Result/Outcome/unchanged`` with no changes for a skipped file change.
    public func reload(trigger: Trigger = .request) async -> Result {
        await withCheckedContinuation { continuation in
            let isRunner = self.state.withLockedValue { state in
                switch state.machine.requested(trigger) {
                case .reload:
                    state.round = [continuation]
                    return true
                case .waitForNextRound:
                    state.nextRound.append(continuation)
                    return false
                }
            }
            if isRunner { self.runRounds(from: trigger) }
        }
    }

    /// Runs reloads until no trigger is left waiting, resuming each round's waiters with its result.
    private func runRounds(from trigger: Trigger) {
        var trigger = trigger
        while true {
            let result = self.perform(trigger)
            let (waiters, next) = self.state.withLockedValue { state in
                let waiters = state.round
                switch state.machine.finished() {
                case .becomeIdle:
                    state.round = []
                    return (waiters, Trigger?.none)
                case .reloadAgain(let next):
                    state.round = state.nextRound
                    state.nextRound = []
                    return (waiters, next)
                }
            }
            for waiter in waiters { waiter.resume(returning: result) }
            guard let next else { return }
            trigger = next
        }
    }
}

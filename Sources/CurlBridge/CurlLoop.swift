internal import CCurl
public import Logging
internal import NIOConcurrencyHelpers
public import ServiceLifecycle

#if canImport(Glibc)
internal import Glibc
#endif

/// One libcurl multi handle driven by its own thread. The proxy runs one or more (`serve --curl-loops`, by default
/// one per event loop), and each event loop's client connections hand their transfers to one of them: the loop's
/// upstream connections are kept and reused across those requests, while DNS answers and TLS sessions are common
/// to all loops (``CurlShare``).
///
/// libcurl handles are not thread-safe (libcurl-thread(3)), so every curl call on the multi and its easy handles
/// happens on the loop thread. Other threads only ``submit(_:)`` commands: a lock-guarded queue plus
/// `curl_multi_wakeup`, the one call documented as safe from any thread. The loop drains commands, runs
/// `curl_multi_perform`, reaps finished transfers, flushes each transfer's batched events once, then sleeps in
/// `curl_multi_poll`. A thread of its own rather than curl's sockets in NIO's event loop: NIOPosix has no public
/// way to watch a descriptor it does not own, and on one thread libcurl's rules (a handle used by one thread at a
/// time, `curl_easy_pause` only from the thread running the handle, curl_easy_pause(3)) hold by construction.
public final class CurlLoop: Service, @unchecked Sendable {
    // @unchecked: `inbox` and `completion` are lock-guarded; all other stored vars are loop-thread only.

    /// Connection-pool settings for the multi handle.
    public struct Configuration: Sendable {
        /// Idle connections kept open for reuse (`CURLMOPT_MAXCONNECTS`).
        public var maxIdleConnections: Int
        /// Connections per upstream host, 0 for no limit (`CURLMOPT_MAX_HOST_CONNECTIONS`).
        public var maxConnectionsPerHost: Int
        /// How long a graceful shutdown waits for running transfers before cancelling them.
        public var drainTimeout: Duration

        /// - Parameters:
        ///   - maxIdleConnections: Idle connections kept open for reuse.
        ///   - maxConnectionsPerHost: Connections per upstream host, 0 for no limit.
        ///   - drainTimeout: How long a graceful shutdown waits for running transfers.
        public init(
            maxIdleConnections: Int = 1024,
            maxConnectionsPerHost: Int = 0,
            drainTimeout: Duration = .seconds(30)
        ) {
            self.maxIdleConnections = maxIdleConnections
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.drainTimeout = drainTimeout
        }

        /// Sets the pool options on a multi handle (`bench/engines floor` uses it without a loop).
        package func configure(_ multi: UnsafeMutableRawPointer) {
            _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, self.maxIdleConnections)
            _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, self.maxConnectionsPerHost)
        }
    }

    enum Command {
        case start(Transfer)
        case resumeSend(Transfer)
        case resumeReceive(Transfer)
        case cancel(Transfer)
        case shutdown
    }

    private struct Inbox {
        var commands: [Command] = []
        var isClosed = false
    }

    private let inbox = NIOLockedValueBox(Inbox())
    private let completion = NIOLockedValueBox<(isDone: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    private let multi: UnsafeMutableRawPointer
    private let configuration: Configuration
    private let logger: Logger

    // Loop thread only.
    private var active: [ObjectIdentifier: Transfer] = [:]
    private var dirty: [Transfer] = []
    private var drainDeadline: ContinuousClock.Instant?
    /// Easy handles of finished HTTP/1.1 transfers, reset and ready for the next one: `curl_easy_init` and
    /// `curl_easy_cleanup` cost more than the rest of libcurl's work for a small response.
    private var idleHandles: [UnsafeMutableRawPointer] = []
    private static let maxIdleHandles = 256

    /// Creates the multi handle and starts the loop thread. Call ``CurlGlobal/initialize()`` first.
    /// - Parameters:
    ///   - configuration: Connection-pool settings.
    ///   - logger: Receives loop start/stop and command errors; nothing is logged per chunk.
    public init(configuration: Configuration = Configuration(), logger: Logger) {
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.multi = multi
        self.configuration = configuration
        self.logger = logger
        configuration.configure(multi)
        DetachedThread.start { [self] in self.runLoop() }
    }

    /// Starts a transfer. Events reach `sink` on the loop thread, in order, batched per loop iteration.
    /// - Returns: The transfer, through which the caller feeds the request body, reports consumption and cancels.
    public func start(
        _ request: TransferRequest,
        sink: @escaping @Sendable ([TransferEvent]) -> Void
    ) -> Transfer {
        let transfer = Transfer(request: request, sink: sink)
        transfer.loop = self
        if !self.submit(.start(transfer)) {
            sink([.failed(CurlError(code: CURLE_ABORTED_BY_CALLBACK, errorBuffer: "the proxy is shutting down"))])
        }
        return transfer
    }

    /// Runs until graceful shutdown, then drains running transfers and closes the multi handle.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Stops taking transfers, lets running ones finish (up to the drain timeout) and returns once the loop
    /// thread has cleaned up the multi handle.
    public func shutdown() async {
        self.submit(.shutdown)
        await withCheckedContinuation { continuation in
            let isDone = self.completion.withLockedValue { state -> Bool in
                if !state.isDone { state.waiters.append(continuation) }
                return state.isDone
            }
            if isDone { continuation.resume() }
        }
    }

    /// Queues a command for the loop thread and wakes it.
    /// - Returns: `false` when the loop has already closed.
    @discardableResult
    func submit(_ command: Command) -> Bool {
        self.inbox.withLockedValue { inbox in
            guard !inbox.isClosed else { return false }
            let wasEmpty = inbox.commands.isEmpty
            inbox.commands.append(command)
            // Under the lock so the loop cannot close the multi handle in between; curl_multi_wakeup only
            // writes to a socket pair and never calls back into this code.
            if wasEmpty { curl_multi_wakeup(self.multi) }
            return true
        }
    }

    func markDirty(_ transfer: Transfer) {
        self.dirty.append(transfer)
    }

    // MARK: Loop thread

    private func runLoop() {
        // The kernel's name for the thread: `top` and `perf` show it.
        ccurl_set_thread_name("corsproxy-curl")
        self.logger.debug("curl loop started", metadata: ["curl.version": "\(CurlGlobal.version)"])
        var running: Int32 = 0
        while true {
            let commands = self.inbox.withLockedValue { inbox in
                defer { inbox.commands.removeAll(keepingCapacity: true) }
                return inbox.commands
            }
            for command in commands { self.handle(command) }
            if let deadline = self.drainDeadline {
                if self.active.isEmpty { break }
                if ContinuousClock.now >= deadline {
                    self.logger.warning(
                        "drain timeout: cancelling running transfers",
                        metadata: ["count": "\(self.active.count)"]
                    )
                    for transfer in self.active.values {
                        transfer.cancel()
                        self.detach(transfer)
                    }
                    self.active.removeAll()
                    break
                }
            }
            let performCode = curl_multi_perform(self.multi, &running)
            if performCode != CURLM_OK {
                self.logger.error(
                    "curl_multi_perform failed",
                    metadata: ["curl.error": "\(CurlError(multiCode: performCode))"]
                )
            }
            self.reapCompleted()
            self.flushDirty()
            _ = curl_multi_poll(self.multi, nil, 0, 1000, nil)
        }
        self.close()
    }

    private func close() {
        let leftovers = self.inbox.withLockedValue { inbox in
            inbox.isClosed = true
            return inbox.commands
        }
        for case .start(let transfer) in leftovers {
            transfer.sink([
                .failed(CurlError(code: CURLE_ABORTED_BY_CALLBACK, errorBuffer: "the proxy is shutting down"))
            ])
        }
        self.flushDirty()
        for easy in self.idleHandles { curl_easy_cleanup(easy) }
        self.idleHandles.removeAll()
        curl_multi_cleanup(self.multi)
        self.logger.debug("curl loop stopped")
        let waiters = self.completion.withLockedValue { state in
            state.isDone = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func handle(_ command: Command) {
        switch command {
        case .start(let transfer):
            self.attach(transfer)
        case .resumeReceive(let transfer):
            self.unpause(transfer, CURLPAUSE_RECV)
        case .resumeSend(let transfer):
            self.unpause(transfer, CURLPAUSE_SEND)
        case .cancel(let transfer):
            if self.active.removeValue(forKey: ObjectIdentifier(transfer)) != nil {
                self.detach(transfer)
            }
        case .shutdown:
            if self.drainDeadline == nil {
                self.drainDeadline = .now + self.configuration.drainTimeout
            }
        }
    }

    private func attach(_ transfer: Transfer) {
        guard !transfer.isCancelled else { return }
        guard let easy = self.idleHandles.popLast() ?? curl_easy_init() else {
            transfer.pendingTerminal = .failed(CurlError(code: CURLE_OUT_OF_MEMORY, errorBuffer: ""))
            transfer.markDirty()
            return
        }
        transfer.easy = easy
        let userdata = Unmanaged.passRetained(transfer).toOpaque()
        do {
            try transfer.configure(easy, userdata: userdata)
        } catch {
            transfer.pendingTerminal = .failed(error)
            transfer.markDirty()
            self.release(transfer)
            return
        }
        let code = curl_multi_add_handle(self.multi, easy)
        guard code == CURLM_OK else {
            transfer.pendingTerminal = .failed(CurlError(multiCode: code))
            transfer.markDirty()
            self.release(transfer)
            return
        }
        self.active[ObjectIdentifier(transfer)] = transfer
    }

    private func unpause(_ transfer: Transfer, _ direction: Int32) {
        guard self.active[ObjectIdentifier(transfer)] != nil, let easy = transfer.easy,
            transfer.pauseMask & direction != 0
        else { return }
        transfer.pauseMask &= ~direction
        // May call the write or read callback before it returns (curl_easy_pause(3)); no lock is held here.
        _ = curl_easy_pause(easy, transfer.pauseMask)
    }

    private func reapCompleted() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = ccurl_msg_result(message)
            var pointer: UnsafeMutableRawPointer?
            _ = ccurl_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &pointer)
            guard let pointer else { continue }
            let transfer = Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue()
            guard self.active.removeValue(forKey: ObjectIdentifier(transfer)) != nil else { continue }
            if let fault = transfer.protocolFault {
                transfer.pendingTerminal = .failed(CurlError(code: CURLE_WEIRD_SERVER_REPLY, errorBuffer: fault))
            } else if result == CURLE_OK && transfer.parser.isComplete {
                var connects = 0
                _ = ccurl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
                transfer.pendingTerminal = .end(TransferCompletion(newConnections: connects))
                transfer.isReusable = !transfer.request.isHTTP2
            } else if result == CURLE_OK {
                transfer.pendingTerminal = .failed(CurlError(code: CURLE_GOT_NOTHING, errorBuffer: "no response head"))
            } else {
                transfer.pendingTerminal = .failed(CurlError(code: result, errorBuffer: transfer.errorText))
            }
            transfer.markDirty()
            self.detach(transfer)
        }
    }

    /// Removes the transfer's handle from the multi (never from inside a callback), keeps or frees it, and
    /// drops the reference taken in ``attach(_:)``.
    private func detach(_ transfer: Transfer) {
        if let easy = transfer.easy {
            curl_multi_remove_handle(self.multi, easy)
        }
        self.release(transfer)
    }

    /// Only the handle of a transfer that completed over HTTP/1.1 is kept, reset to defaults (`curl_easy_reset`
    /// keeps nothing request-specific; connections live in the multi handle, DNS answers and TLS sessions in
    /// ``CurlShare``). A failed or cancelled transfer's handle is freed, and so is an HTTP/2 one: with libcurl 7.88,
    /// a handle reused after `curl_easy_reset` fails its next multiplexed HTTP/2 stream with
    /// CURLE_BAD_FUNCTION_ARGUMENT (`HTTP2Tests` shows it).
    private func release(_ transfer: Transfer) {
        if let easy = transfer.easy {
            if transfer.isReusable, self.idleHandles.count < Self.maxIdleHandles {
                curl_easy_reset(easy)
                self.idleHandles.append(easy)
            } else {
                curl_easy_cleanup(easy)
            }
            transfer.easy = nil
        }
        if let list = transfer.headerList {
            curl_slist_free_all(list)
            transfer.headerList = nil
        }
        Unmanaged.passUnretained(transfer).release()
    }

    private func flushDirty() {
        guard !self.dirty.isEmpty else { return }
        let batch = self.dirty
        self.dirty.removeAll(keepingCapacity: true)
        for transfer in batch { transfer.flush() }
    }
}

public import CurlBridge
public import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOExtras
internal import NIOPosix
internal import NIOSSL
public import ServiceLifecycle

/// The listening side of the proxy: a SwiftNIO HTTP/1.1 server whose connections forward through ``CurlLoop``s,
/// each event loop's connections always through the same one. Graceful shutdown marks the drain (``Readiness``,
/// which the admin listener's `/readyz` reads), serves on as before for the config's `timeouts.lameDuck`, then
/// stops accepting, lets in-flight requests finish (up to `drainTimeout`, by default the config's
/// `timeouts.drain`), and closes idle keep-alive connections.
///
/// With `tls` in the config the listener speaks HTTPS: a ``CertificateStore``, made by ``start()``, supplies each new
/// connection's TLS context and watches the certificate files until ``shutdown()``.
public final class ProxyServer: Service, Sendable {
    /// The config snapshot in force; a ``ConfigReloader`` replaces it.
    let store: ConfigStore
    /// `limits.rateLimit`'s buckets, for every connection of the instance; they outlive reloads.
    let limiter = RateLimiter()
    /// What each event loop's connections share: its curl loop (event loop *i* gets curl loop *i* mod their
    /// count) and its `Date` cache.
    private let loops: [ObjectIdentifier: (curl: CurlLoop, date: NIOLoopBoundBox<HTTPDate>)]
    let observers: ExchangeObservers
    /// Each token's upstream budget: one for the server's life, so it survives reloads.
    let budget = UpstreamBudget()
    /// Turns 503 on `/readyz` when the drain begins.
    let readiness = Readiness()
    private let logger: Logger
    private let group: any EventLoopGroup
    private let quiesce: ServerQuiescingHelper
    private let drainTimeout: Duration
    /// How long graceful shutdown goes on serving, `/readyz` already 503, before it stops accepting.
    private let lameDuck: Duration
    /// Open client connections, so the ones still busy when the drain timeout passes can be closed.
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    /// The TLS certificate in force and the task watching its files: set by ``start()`` when the config has `tls`,
    /// the watcher cancelled by ``shutdown()``. The watcher follows the listener, not ``run()``, because tests and
    /// embedders bracket a server with `start()` and `shutdown()` alone.
    private let tls = NIOLockedValueBox<(store: CertificateStore, watcher: Task<Void, Never>)?>(nil)

    /// - Parameters:
    ///   - config: The checked config.
    ///   - curl: The loops upstream transfers run on (at least one), shared out among the event loops.
    ///   - logger: For the server's own events.
    ///   - accessLog: Receives the access log, one line per exchange in `config.log.format`; `nil` for none.
    ///   - colour: Colour the text format's lines (they go to a terminal).
    ///   - drainTimeout: How long graceful shutdown waits for in-flight requests; `nil`: `timeouts.drain`.
    public convenience init(
        config: ProxyConfig,
        curl: [CurlLoop],
        logger: Logger,
        accessLog: (any LogDestination)?,
        colour: Bool = false,
        drainTimeout: Duration? = nil
    ) {
        self.init(
            config: config,
            curl: curl,
            logger: logger,
            sinks: accessLog.map { [AccessLog(format: config.log.format, destination: $0, colour: colour)] } ?? [],
            drainTimeout: drainTimeout
        )
    }

    /// - Parameters:
    ///   - config: The checked config.
    ///   - curl: The loops upstream transfers run on (at least one), shared out among the event loops.
    ///   - logger: For the server's own events.
    ///   - sinks: Receive one ``ExchangeRecord`` per exchange.
    ///   - drainTimeout: How long graceful shutdown waits for in-flight requests; `nil`: `timeouts.drain`.
    init(config: ProxyConfig, curl: [CurlLoop], logger: Logger, sinks: [any ExchangeSink], drainTimeout: Duration?) {
        precondition(!curl.isEmpty, "ProxyServer needs at least one CurlLoop")
        self.store = ConfigStore(ConfigSnapshot(config: config))
        self.group = MultiThreadedEventLoopGroup.singleton
        var loops: [ObjectIdentifier: (curl: CurlLoop, date: NIOLoopBoundBox<HTTPDate>)] = [:]
        for (index, eventLoop) in self.group.makeIterator().enumerated() {
            let date = NIOLoopBoundBox.makeBoxSendingValue(HTTPDate(), eventLoop: eventLoop)
            loops[ObjectIdentifier(eventLoop)] = (curl[index % curl.count], date)
        }
        self.loops = loops
        // Metrics cost a little per exchange; they are kept only when an admin listener will serve them.
        // The inspector's ring (and the response heads it shows) only where an inspector is served.
        self.observers = ExchangeObservers(
            sinks: sinks,
            metrics: config.admin.map { _ in ProxyMetrics() },
            inspector: Inspector.isServed(by: config) ? InspectorRing() : nil
        )
        self.logger = logger
        self.quiesce = ServerQuiescingHelper(group: self.group)
        self.drainTimeout = drainTimeout ?? config.timeouts.drain
        self.lameDuck = config.timeouts.lameDuck
    }

    /// This server's metrics, which the admin listener serves; `nil` without an `admin` listener in the config.
    /// The reload and TLS features record through it (``ProxyMetrics/recordReload(success:at:)``,
    /// ``ProxyMetrics/setTLSCertificateExpiry(_:)``).
    public var metrics: ProxyMetrics? { self.observers.metrics }

    /// How many event loops serve client connections: one per core (NIO's shared group).
    public static var eventLoopCount: Int {
        Array(MultiThreadedEventLoopGroup.singleton.makeIterator()).count
    }

    /// The number of the config version in force: 1 at start, one more per reload that applied a change.
    public var configVersion: Int {
        self.store.current.version
    }

    /// The listener's TLS certificate, its reload counters and expiry; `nil` without `tls` or before ``start()``.
    public var certificates: CertificateStore? {
        self.tls.withLockedValue { $0?.store }
    }

    /// Loads the TLS pair (with `tls`), starts watching its files, and binds the listen address (`--listen` or the
    /// config's).
    /// - Returns: The address actually bound, with the real port when 0 was asked for.
    /// - Throws: ``CertificatePair/Refusal`` when the pair cannot serve; the bind's error.
    public func start() async throws -> ListenAddress {
        let config = self.store.current.config
        let quiesce = self.quiesce
        let certificates = try config.tls.map { tls throws(CertificatePair.Refusal) in
            try CertificateStore(tls: tls, logger: self.logger)
        }
        // Fixed at start (a reload reports a change as needing a restart): one listener handler counts them.
        let maxConnections = config.limits.maxConnections
        let acceptsPerRead: UInt = maxConnections > 0 ? 1 : 4
        // One accept per read with a connection limit, so that it is never overshot.
        let channel = try await ServerBootstrap(group: self.group)
            .proxySocketOptions(acceptsPerRead: acceptsPerRead)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                    if maxConnections > 0 { try pipeline.addHandler(ConnectionLimiter(maximum: maxConnections)) }
                }
            }
            .childChannelInitializer { [self] channel in
                self.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    // Read per connection, so a reloaded limit applies to the connections accepted after it.
                    let maxHeaderBytes = self.store.current.config.limits.maxHeaderBytes
                    let pipeline = channel.pipeline.syncOperations
                    if let certificates {
                        // First, so that everything after it reads and writes plaintext. A failed handshake
                        // (plain HTTP, a scanner, a client that distrusts the certificate) closes this connection
                        // only; the context was read once, so a reload mid-handshake cannot touch it.
                        try pipeline.addHandler(NIOSSLServerHandler(context: certificates.context))
                    }
                    try pipeline.addProxyHTTPCodec(maxHeaderBytes: maxHeaderBytes)
                    let loop = self.loops[ObjectIdentifier(channel.eventLoop)]!
                    try pipeline.addHandler(
                        ProxyHandler(
                            store: self.store,
                            limiter: self.limiter,
                            curl: loop.curl,
                            observers: self.observers,
                            budget: self.budget,
                            date: loop.date,
                            logger: self.logger
                        )
                    )
                }
            }
            .bind(host: config.listen.host, port: config.listen.port)
            .get()
        if let certificates {
            let watcher = Task { await certificates.watch() }
            self.tls.withLockedValue { $0 = (certificates, watcher) }
        }
        let port = channel.localAddress?.port ?? config.listen.port
        return ListenAddress(host: config.listen.host, port: port)
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.connections.withLockedValue { $0[id] = channel }
        self.metrics?.connectionOpened()
        channel.closeFuture.whenComplete { [self] _ in
            _ = self.connections.withLockedValue { $0.removeValue(forKey: id) }
            self.metrics?.connectionClosed()
        }
    }

    /// Runs until graceful shutdown, then drains.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Turns `/readyz` 503, serves on for `timeouts.lameDuck`, then stops accepting connections and waits until
    /// in-flight requests have finished or `drainTimeout` passed.
    public func shutdown() async {
        self.readiness.beginDrain()
        if self.lameDuck > .zero {
            // Accepting and keeping connections alive as before, until the balancer has seen the 503. Cancelled
            // (the service group gave up waiting), the drain begins at once.
            self.logger.info("lame duck: /readyz is 503; serving on for \(self.lameDuck), then draining")
            try? await Task.sleep(for: self.lameDuck)
        }
        // A live stream never ends by itself: it would hold its connection open through the drain.
        self.observers.inspector?.closeSubscribers()
        if let watcher = self.tls.withLockedValue({ $0?.watcher }) {
            // No new connections from here on, so no handshake needs a newer certificate.
            watcher.cancel()
            await watcher.value
        }
        await self.quiesce.shutdown(on: self.group.next(), within: self.drainTimeout)
        // Past the drain timeout: close what is still open; their transfers are cancelled with them.
        let remaining = self.connections.withLockedValue { Array($0.values) }
        for channel in remaining { try? await channel.close() }
    }
}

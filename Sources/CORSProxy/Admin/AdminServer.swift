public import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOExtras
internal import NIOHTTP1
internal import NIOPosix
public import ServiceLifecycle

/// The admin listener: a second, small HTTP/1.1 server on its own address (`admin.listen`), on the same event
/// loops as the proxy, serving ``AdminRoute``'s endpoints from the same config store, sinks and metrics as the
/// ``ProxyServer`` it watches. Proxied traffic never reaches it.
///
/// Put it before the proxy in the `ServiceGroup`: services stop in reverse order, so during the proxy's drain
/// the admin listener still answers (`/readyz` says 503, `/metrics` shows the requests in flight going down),
/// and it stops last.
public final class AdminServer: Service, Sendable {
    private let source: AdminRoute.Source
    private let listen: ListenAddress
    private let logger: Logger
    private let group: any EventLoopGroup
    private let quiesce: ServerQuiescingHelper

    /// - Parameters:
    ///   - proxy: The server whose config, reports, metrics and readiness it serves.
    ///   - listen: Where to bind (`admin.listen`); port 0 picks a free port.
    ///   - logger: For the listener's own events.
    ///   - reloader: What `POST /reload` runs; without one the endpoint answers 404.
    public init(proxy: ProxyServer, listen: ListenAddress, reloader: ConfigReloader? = nil, logger: Logger) {
        var reload: (@Sendable () async -> ConfigReloader.Result)?
        if let reloader {
            reload = { await reloader.reload(trigger: .request) }
        }
        self.source = AdminRoute.Source(
            store: proxy.store,
            observers: proxy.observers,
            readiness: proxy.readiness,
            certificates: { proxy.certificates },
            reload: reload,
            inspector: proxy.observers.inspector.map { Inspector(ring: $0, base: Inspector.adminBase, listen: listen) }
        )
        self.listen = listen
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
        self.quiesce = ServerQuiescingHelper(group: self.group)
    }

    /// Binds the admin address.
    /// - Returns: The address actually bound, with the real port when 0 was asked for.
    public func start() async throws -> ListenAddress {
        let quiesce = self.quiesce
        let source = self.source
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(AdminHandler(source: source))
                }
            }
            .bind(host: self.listen.host, port: self.listen.port)
            .get()
        return ListenAddress(host: self.listen.host, port: channel.localAddress?.port ?? self.listen.port)
    }

    /// Runs until graceful shutdown, then closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Stops accepting and closes its connections, each after the answer it is writing (within a second).
    public func shutdown() async {
        await self.quiesce.shutdown(on: self.group.next(), within: .seconds(1))
        self.logger.debug("admin listener closed")
    }
}

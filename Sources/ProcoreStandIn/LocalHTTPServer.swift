public import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
public import ServiceLifecycle

/// A small HTTP/1.1 server on one address that answers every request with a synchronous function of the whole
/// request: the Procore stand-in's two hosts and the demo's static site. Request bodies are read whole (at most
/// 1 MiB); keep-alive is honoured.
///
/// Not a drain-capable server: every answer is computed at once, so graceful shutdown just closes the listener
/// and then every open connection.
public final class LocalHTTPServer: Service, Sendable {
    /// Answers one request.
    public typealias Handler = @Sendable (Request) -> Response

    private let host: String
    private let port: Int
    private let handler: Handler
    private let logger: Logger
    private let state = NIOLockedValueBox(State.idle)

    private enum State {
        case idle
        case listening(server: any Channel, connections: [ObjectIdentifier: any Channel])
        case closed
    }

    /// - Parameters:
    ///   - host: The address to bind, e.g. `127.0.0.1`.
    ///   - port: The port; 0 picks a free one.
    ///   - logger: For the server's own events.
    ///   - handler: Answers each request.
    public init(host: String, port: Int, logger: Logger, handler: @escaping Handler) {
        self.host = host
        self.port = port
        self.logger = logger
        self.handler = handler
    }

    /// Binds the address.
    /// - Returns: The port actually bound (the real one when 0 was asked for).
    /// - Throws: The bind's error (an `IOError` with `EADDRINUSE` when the port is taken).
    public func start() async throws -> Int {
        let handler = self.handler
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                self.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(NIOHTTPServerRequestAggregator(maxContentLength: 1 << 20))
                    try pipeline.addHandler(LocalHTTPHandler(handler: handler))
                }
            }
            .bind(host: self.host, port: self.port)
            .get()
        let accepted = self.state.withLockedValue { state in
            guard case .idle = state else { return false }
            state = .listening(server: server, connections: [:])
            return true
        }
        guard accepted else {
            try? await server.close()
            preconditionFailure("LocalHTTPServer.start() called twice or after shutdown")
        }
        return server.localAddress?.port ?? self.port
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let kept = self.state.withLockedValue { state in
            guard case .listening(let server, var connections) = state else { return false }
            connections[id] = channel
            state = .listening(server: server, connections: connections)
            return true
        }
        guard kept else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            self.state.withLockedValue { state in
                guard case .listening(let server, var connections) = state else { return }
                connections[id] = nil
                state = .listening(server: server, connections: connections)
            }
        }
    }

    /// Runs until graceful shutdown, then closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Closes the listener and every open connection.
    public func shutdown() async {
        let channels = self.state.withLockedValue { state -> [any Channel] in
            defer { state = .closed }
            guard case .listening(let server, let connections) = state else { return [] }
            return [server] + connections.values
        }
        for channel in channels { try? await channel.close() }
        self.logger.debug("local server closed", metadata: ["port": "\(self.port)"])
    }
}

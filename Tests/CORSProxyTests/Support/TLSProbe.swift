import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A TLS client that trusts only a test CA: it connects, completes a handshake (verifying the chain and the IP
/// address 127.0.0.1), reports the serial number of the certificate the server presented, and closes.
struct TLSProbe: Sendable {
    private let context: NIOSSLContext

    /// - Parameters:
    ///   - caFile: The PEM file of the only CA to trust.
    ///   - maximumVersion: The newest TLS version to offer (older ones are offered too).
    init(caFile: String, maximumVersion: TLSVersion? = nil) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        configuration.minimumTLSVersion = .tlsv1
        configuration.maximumTLSVersion = maximumVersion
        configuration.applicationProtocols = ["http/1.1"]
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// One new connection and full handshake.
    /// - Returns: The server certificate's serial number in lowercase hex, and the negotiated ALPN protocol.
    func handshake(port: Int, timeout: TimeAmount = .seconds(5)) async throws -> (serial: String, alpn: String?) {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: (serial: String, alpn: String?).self)
        let context = self.context
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: nil)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(HandshakeCatcher(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(TestFailure("no TLS handshake within \(timeout)"))
        }
        defer { timer.cancel() }
        do {
            let result = try await promise.futureResult.get()
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }
}

/// Completes the probe's promise with the peer certificate's serial once the handshake is done, or fails it.
private final class HandshakeCatcher: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<(serial: String, alpn: String?)>

    init(promise: EventLoopPromise<(serial: String, alpn: String?)>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted(let alpn) = tlsEvent {
            do {
                let tls = try context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                guard let certificate = tls.peerCertificate else { throw TestFailure("no peer certificate") }
                var serial = certificate.serialNumber.map { byte in
                    let digits = String(byte, radix: 16)
                    return digits.count == 1 ? "0" + digits : digits
                }.joined()
                while serial.hasPrefix("0"), serial.count > 1 { serial.removeFirst() }
                self.promise.succeed((serial, alpn))
            } catch {
                self.promise.fail(error)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(TestFailure("connection closed before the handshake completed"))
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension HandshakeCatcher: Sendable {}

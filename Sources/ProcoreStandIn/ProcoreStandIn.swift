internal import FoundationEssentials
public import Logging
internal import NIOConcurrencyHelpers
public import ServiceLifecycle

/// A stand-in for the Procore developer sandbox, on loopback, for `corsproxy demo` and the tests: two HTTP
/// servers sharing one account system, as Procore's two hosts do.
///
/// - The login host serves `GET /oauth/authorize` (the implicit grant: straight back to `redirect_uri` with
///   `#access_token=…&token_type=bearer&expires_in=86400&state=…`) and `GET /oauth/token/info`.
/// - The API host serves `GET /rest/v1.0/me`, `/rest/v1.0/companies`, `/rest/v1.0/projects` (paginated: `Total`,
///   `Per-Page`, absolute `Link` URLs on its own base URL) and `/rest/v1.0/projects/{id}`. It answers 401 without a
///   valid bearer token, 400 without `Procore-Company-Id` where Procore requires it, and 429 with `Retry-After`
///   once a token's budget for the window is spent.
///
/// Like Procore for an origin API Support has not whitelisted, neither host sends any `Access-Control-*` header:
/// a browser page cannot call it directly, only through the proxy. Ported from `tests/browser/fake_procore.py`.
public final class ProcoreStandIn: Service, Sendable {
    /// Why ``start()`` failed: which host could not bind which port.
    public struct BindFailure: Error, CustomStringConvertible {
        /// `login` or `API`.
        public var host: String
        public var port: Int
        public var underlying: any Error

        public var description: String {
            "stand-in \(self.host) host: cannot listen on port \(self.port): \(self.underlying)"
        }
    }

    /// The client ID the login host accepts unless told otherwise.
    public static let defaultClientID = "stand-in-client-id"

    /// The only client ID `/oauth/authorize` accepts.
    public let clientID: String
    /// Requests per token and window (`X-Rate-Limit-Limit`).
    let tokenLimit: Int
    let tokens = NIOLockedValueBox(StandInTokens())
    /// The API host's base URL, on which `Link` URLs are built; set once it is bound.
    let apiBase = NIOLockedValueBox("")
    let now: @Sendable () -> Int
    private let host: String
    private let ports: (login: Int, api: Int)
    private let servers = NIOLockedValueBox<[LocalHTTPServer]>([])
    private let logger: Logger

    /// - Parameters:
    ///   - host: The address both hosts bind (loopback).
    ///   - loginPort: The login host's port; 0 picks a free one.
    ///   - apiPort: The API host's port; 0 picks a free one.
    ///   - clientID: The client ID `/oauth/authorize` accepts.
    ///   - tokenLimit: Requests each token may make per hour before it gets 429.
    ///   - logger: For the servers' own events.
    ///   - now: Unix seconds; the wall clock by default.
    public init(
        host: String = "127.0.0.1",
        loginPort: Int = 0,
        apiPort: Int = 0,
        clientID: String = ProcoreStandIn.defaultClientID,
        tokenLimit: Int = 3_600,
        logger: Logger,
        now: (@Sendable () -> Int)? = nil
    ) {
        self.host = host
        self.ports = (loginPort, apiPort)
        self.clientID = clientID
        self.tokenLimit = tokenLimit
        self.logger = logger
        self.now = now ?? { Int(Date().timeIntervalSince1970) }
    }

    /// Binds both hosts.
    /// - Returns: Their base URLs, e.g. `http://127.0.0.1:8793`.
    /// - Throws: ``BindFailure`` naming the host whose port could not be bound (the other is closed again).
    public func start() async throws -> (login: String, api: String) {
        let login = LocalHTTPServer(host: self.host, port: self.ports.login, logger: self.logger) { [self] in
            self.answerLogin($0)
        }
        let api = LocalHTTPServer(host: self.host, port: self.ports.api, logger: self.logger) { [self] in
            self.answerAPI($0)
        }
        let loginPort: Int
        do {
            loginPort = try await login.start()
        } catch {
            throw BindFailure(host: "login", port: self.ports.login, underlying: error)
        }
        let apiPort: Int
        do {
            apiPort = try await api.start()
        } catch {
            await login.shutdown()
            throw BindFailure(host: "API", port: self.ports.api, underlying: error)
        }
        self.servers.withLockedValue { $0 = [login, api] }
        let urls = (login: "http://\(self.host):\(loginPort)", api: "http://\(self.host):\(apiPort)")
        self.apiBase.withLockedValue { $0 = urls.api }
        return urls
    }

    /// Mints an access token as `/oauth/authorize` does, with its own budget per window (tests use a tiny one).
    public func issueToken(limit: Int) -> String {
        self.tokens.withLockedValue { $0.issue(clientID: self.clientID, limit: limit, now: self.now()) }
    }

    /// Runs until graceful shutdown, then closes both hosts.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Closes both hosts and their connections.
    public func shutdown() async {
        for server in self.servers.withLockedValue({ $0 }) { await server.shutdown() }
    }
}

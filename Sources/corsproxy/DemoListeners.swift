import CORSProxy
import CurlBridge
import DemoSPA
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ProcoreStandIn
import ServiceLifecycle

/// The demo's listeners, bound one after the other so each can be pointed at the ones before it: the stand-in's
/// two hosts, the SPA's static server (its origin goes into the proxy's allowlist), the proxy (the SPA's page
/// is configured with its URL), the admin listener. A failure to bind names the port and the option that moves
/// it; what had started is then shut down with ``shutdown()``.
struct DemoListeners {
    /// Why the demo cannot start, in one line.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let ports: DemoPorts
    /// `--port`, for the error that suggests another.
    let base: Int
    let accessLog = BackgroundLogWriter()
    /// What the `ServiceGroup` runs, in start order: it stops them in reverse, the proxy's drain first.
    private(set) var services: [any Service] = []
    private(set) var banner = DemoBanner(spa: "", proxy: "", admin: "", login: "", api: "")
    private var stops: [@Sendable () async -> Void] = []

    init(ports: DemoPorts, base: Int) {
        self.ports = ports
        self.base = base
    }

    mutating func start(logger: Logger) async throws {
        let standIn = ProcoreStandIn(loginPort: self.ports.login, apiPort: self.ports.api, logger: logger)
        let upstreams: (login: String, api: String)
        do {
            upstreams = try await standIn.start()
        } catch let failure as ProcoreStandIn.BindFailure {
            throw self.failure(failure.underlying, port: failure.port, what: "the stand-in's \(failure.host) host")
        }
        self.stops.append { await standIn.shutdown() }

        // Bound before the proxy, whose allowlist needs its origin; configured once the proxy's URL is known.
        let site = NIOLockedValueBox<SPASite?>(nil)
        let siteServer = LocalHTTPServer(host: "127.0.0.1", port: self.ports.spa, logger: logger) { request in
            Self.answer(request, from: site.withLockedValue { $0 })
        }
        let spaPort: Int
        do {
            spaPort = try await siteServer.start()
        } catch {
            throw self.failure(error, port: self.ports.spa, what: "the SPA", option: "--spa-port")
        }
        self.stops.append { await siteServer.shutdown() }
        let spaOrigin = "http://localhost:\(spaPort)"

        let config = try DemoConfig.make(
            proxyPort: self.ports.proxy,
            adminPort: self.ports.admin,
            login: upstreams.login,
            api: upstreams.api,
            spaOrigins: [spaOrigin, "http://127.0.0.1:\(spaPort)"]
        )
        let curl = CurlLoop(configuration: .init(drainTimeout: .seconds(1)), logger: logger)
        self.stops.append { await curl.shutdown() }
        let colour = isatty(2) == 1 && getenv("NO_COLOR") == nil
        let server = ProxyServer(
            config: config,
            curl: [curl],
            logger: logger,
            accessLog: self.accessLog,
            colour: colour,
            drainTimeout: .seconds(2)
        )
        let proxyAddress: ListenAddress
        do {
            proxyAddress = try await server.start()
        } catch {
            throw self.failure(error, port: self.ports.proxy, what: "the proxy", option: "--proxy-port")
        }
        self.stops.append { await server.shutdown() }
        let proxyURL = "http://127.0.0.1:\(proxyAddress.port)"
        do {
            let configured = try SPASite(
                settings: .init(api: proxyURL, login: proxyURL, clientID: standIn.clientID, perPage: 3)
            )
            site.withLockedValue { $0 = configured }
        } catch {
            throw Failure(description: "\(error)")
        }

        let admin = AdminServer(
            proxy: server,
            listen: ListenAddress(host: "127.0.0.1", port: self.ports.admin),
            logger: logger
        )
        let adminAddress: ListenAddress
        do {
            adminAddress = try await admin.start()
        } catch {
            throw self.failure(error, port: self.ports.admin, what: "the admin listener")
        }
        self.stops.append { await admin.shutdown() }

        self.services = [standIn, siteServer, admin, curl, server]
        self.banner = DemoBanner(
            spa: spaOrigin,
            proxy: proxyURL,
            admin: "http://127.0.0.1:\(adminAddress.port)",
            login: upstreams.login,
            api: upstreams.api
        )
    }

    /// Shuts down, last first, what ``start(logger:)`` had started before it failed.
    func shutdown() async {
        for stop in self.stops.reversed() { await stop() }
    }

    private static func answer(_ request: LocalHTTPServer.Request, from site: SPASite?) -> LocalHTTPServer.Response {
        guard request.method == "GET" || request.method == "HEAD", let file = site?.file(at: request.path) else {
            return LocalHTTPServer.Response(
                status: 404,
                headers: [(name: "Content-Type", value: "text/plain; charset=utf-8")],
                body: Array("Not found: the demo serves /, /index.html and /app.js.\n".utf8)
            )
        }
        return LocalHTTPServer.Response(
            status: 200,
            headers: [(name: "Content-Type", value: file.contentType), (name: "Cache-Control", value: "no-store")],
            body: file.body
        )
    }

    /// The one line for a listener that could not bind: a taken port names the option that moves it.
    private func failure(_ error: any Error, port: Int, what: String, option: String? = nil) -> Failure {
        guard (error as? IOError)?.errnoCode == EADDRINUSE else {
            return Failure(description: "cannot listen on 127.0.0.1:\(port) (\(what)): \(error)")
        }
        let last = self.base + DemoPorts.count - 1
        let base = self.base == 0 ? "now 0: free ports" : "now \(self.base): \(self.base)-\(last)"
        let fix =
            option.map { "pick another with \($0) PORT, or move all five with --port BASE (\(base))" }
            ?? "move all five with --port BASE (\(base))"
        return Failure(description: "port \(port) (\(what)) is already in use: \(fix)")
    }
}

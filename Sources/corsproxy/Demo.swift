import ArgumentParser
import CORSProxy
import CurlBridge
import DemoSPA
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ProcoreStandIn
import ServiceLifecycle
import UnixSignals

/// `corsproxy demo`: the Procore stand-in, the proxy in front of it and the example SPA on its own origin, all
/// on loopback and offline, until SIGINT or SIGTERM.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Try it offline: a Procore stand-in, corsproxy in front of it, and the example SPA.",
        discussion: """
            Starts, on 127.0.0.1, five listeners on ports in a row from --port (default \(DemoPorts.defaultBase)):

              \(DemoPorts.defaultBase)  the example SPA (Examples/implicit-grant-spa), opened as http://localhost:\(DemoPorts.defaultBase)/
              \(DemoPorts.defaultBase + 1)  corsproxy, allowing only the SPA's origin
              \(DemoPorts.defaultBase + 2)  the proxy's admin listener, with the live inspector at /inspector
              \(DemoPorts.defaultBase + 3)  a Procore stand-in's login host (/oauth/authorize: the implicit grant)
              \(DemoPorts.defaultBase + 4)  the stand-in's API host (/rest/v1.0/me, /companies, paginated /projects)

            The stand-in sends no CORS headers, as Procore does for an origin it has not whitelisted: the page \
            can only call it through the proxy. Open the printed `open:` URL, click "Sign in with Procore", and \
            watch every page of projects load; each request gets an access log line on standard error, and the \
            `inspector:` URL shows the exchanges live.

            The two lines `open:      URL` and `inspector: URL` are printed once everything listens. SIGINT \
            (Ctrl-C) or SIGTERM stops it all; the exit status is then 0.

            Examples:
              corsproxy demo                   # ports \(DemoPorts.defaultBase)-\(DemoPorts.defaultBase + DemoPorts.count - 1)
              corsproxy demo --port 9100       # ports 9100-9104
              corsproxy demo --spa-port 3001   # the SPA elsewhere, the rest from \(DemoPorts.defaultBase + 1)
              corsproxy demo --port 0          # free ports, whichever the system picks
            """
    )

    @Option(
        help: ArgumentHelp(
            "The first of five ports in a row: the SPA, the proxy, the admin listener, the stand-in's login host and its API host (0: free ports).",
            valueName: "base"
        )
    )
    var port = DemoPorts.defaultBase

    @Option(help: ArgumentHelp("The SPA's port instead of the base's.", valueName: "port"))
    var spaPort: Int?

    @Option(help: ArgumentHelp("The proxy's port instead of the base's second.", valueName: "port"))
    var proxyPort: Int?

    func validate() throws {
        guard (0...(65536 - DemoPorts.count)).contains(self.port) else {
            throw ValidationError("--port: \(self.port) is not 0 or a port with four more after it (1-65531)")
        }
        for (name, value) in [("--spa-port", self.spaPort), ("--proxy-port", self.proxyPort)] {
            if let value, !(0...65535).contains(value) {
                throw ValidationError("\(name): \(value) is not a port (0-65535)")
            }
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "corsproxy")
        signal(SIGPIPE, SIG_IGN)
        try CurlGlobal.initialize()
        let ports = DemoPorts(base: self.port, spa: self.spaPort, proxy: self.proxyPort)
        var listeners = DemoListeners(ports: ports, base: self.port)
        defer { listeners.accessLog.close() }
        do {
            try await listeners.start(logger: logger)
        } catch let failure as DemoListeners.Failure {
            await listeners.shutdown()
            Console.error("corsproxy demo: \(failure)")
            throw ExitCode(1)
        }
        for line in listeners.banner.lines { Console.out(line) }
        let group = ServiceGroup(
            services: listeners.services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}

import ArgumentParser
import CORSProxy
import CurlBridge
import Glibc
import Logging
import ServiceLifecycle
import UnixSignals

/// `corsproxy serve`: run the proxy until SIGINT or SIGTERM, then drain and exit 0.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the proxy (the default command).",
        discussion: """
            Prints `corsproxy listening on http://HOST:PORT` (https with `tls`) once ready (then `corsproxy admin \
            listening on http://HOST:PORT` with an `admin` listener), then one access log line per request on \
            standard error. SIGINT or SIGTERM turns the admin listener's /readyz to 503, serves on for \
            timeouts.lameDuck (default 0) so a load balancer can take the instance out, then stops accepting \
            connections, lets requests in flight finish (within timeouts.drain), and exits 0.

            Reload: SIGHUP, or any change of the config file (watched with inotify on its directory, so an \
            editor's rename and a Kubernetes ConfigMap's ..data symlink swap count), reads and checks the file as \
            at start. An invalid file is refused with one log line per problem and the old config keeps serving; \
            a valid one applies from each connection's next request, and the log lists what changed. A changed \
            `listen` or `tls` needs a restart (logged, not applied). TLS files are re-read when they change.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(
        help: ArgumentHelp(
            "Listen here instead of the config's `listen` (port 0 picks a free port).",
            valueName: "host:port"
        )
    )
    var listen: String?

    @Option(
        help: ArgumentHelp(
            "trace, debug, info, notice, warning, error or critical; above info there is no access log.",
            valueName: "level"
        )
    )
    var logLevel = "info"

    @Option(
        help: ArgumentHelp(
            "The access log's format instead of the config's `log.format`: text (a short line per request for a terminal, and the reason and fix when the browser will block it) or json (one object per line).",
            valueName: "format"
        )
    )
    var logFormat: String?

    @Option(
        help: ArgumentHelp(
            "Upstream threads, each a libcurl multi handle with its own connection pool serving the connections of its share of the event loops: 1 to the number of event loops (default: one per event loop, i.e. per core).",
            valueName: "count"
        )
    )
    var curlLoops: Int?

    func validate() throws {
        if let curlLoops, !(1...ProxyServer.eventLoopCount).contains(curlLoops) {
            throw ValidationError(
                "--curl-loops: \(curlLoops) is not between 1 and \(ProxyServer.eventLoopCount), the number of event loops (one per core); each loop serves the connections of its event loops, so more would get none"
            )
        }
        if let listen, ListenAddress(listen) == nil {
            throw ValidationError("--listen: \"\(listen)\" is not HOST:PORT (e.g. 127.0.0.1:8787 or [::1]:8787)")
        }
        if let logFormat, ProxyConfig.LogFormat(rawValue: logFormat) == nil {
            throw ValidationError("--log-format: \"\(logFormat)\" is neither text nor json")
        }
        if Logger.Level(rawValue: self.logLevel) == nil {
            throw ValidationError(
                "--log-level: \"\(self.logLevel)\" is not one of trace, debug, info, notice, warning, error, critical"
            )
        }
    }

    func run() async throws {
        var config: ProxyConfig
        do {
            config = try ProxyConfig.load(path: self.options.config)
        } catch {
            Console.error("\(error)")
            throw ExitCode(1)
        }
        if let listen, let address = ListenAddress(listen) { config.listen = address }
        if let logFormat, let format = ProxyConfig.LogFormat(rawValue: logFormat) { config.log.format = format }
        for warning in config.lint() {
            Console.error(warning.warningLine(file: self.options.config))
        }

        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "corsproxy")
        signal(SIGPIPE, SIG_IGN)
        try CurlGlobal.initialize()

        // The server drains first (ServiceGroup stops services in reverse order); what is left is cancelled.
        let curls = (0..<(self.curlLoops ?? ProxyServer.eventLoopCount)).map { _ in
            CurlLoop(configuration: .init(drainTimeout: .seconds(5)), logger: logger)
        }
        // The access log is written from its own thread; colour only for a person at a terminal (and no NO_COLOR).
        let accessLog = level <= .info ? BackgroundLogWriter() : nil
        let colour = config.log.format == .text && isatty(2) == 1 && getenv("NO_COLOR") == nil
        defer { accessLog?.close() }
        let server = ProxyServer(config: config, curl: curls, logger: logger, accessLog: accessLog, colour: colour)
        // Trapping SIGHUP before the ready line: until then its default action would end the process.
        let reloader = ConfigReloader(
            server: server,
            path: self.options.config,
            listenOverride: self.listen.flatMap(ListenAddress.init),
            signals: await UnixSignalsSequence(trapping: .sighup),
            logger: logger
        )
        let address: ListenAddress
        do {
            address = try await server.start()
        } catch let refusal as CertificatePair.Refusal {
            // The pair validated a moment ago and changed since.
            for curl in curls { await curl.shutdown() }
            Console.error("\(self.options.config): \(refusal)")
            throw ExitCode(1)
        } catch {
            for curl in curls { await curl.shutdown() }
            Console.error("corsproxy: cannot listen on \(config.listen): \(error)")
            throw ExitCode(1)
        }
        Console.out("corsproxy listening on \(config.scheme)://\(address)")
        // The group stops services in reverse order: the proxy first (so /readyz turns 503 at once), then the
        // curl loops, the reloader, and the admin listener last, answering all through the drain.
        var services: [any Service] = []
        if let admin = config.admin {
            let adminServer = AdminServer(proxy: server, listen: admin.listen, reloader: reloader, logger: logger)
            do {
                let adminAddress = try await adminServer.start()
                Console.out("corsproxy admin listening on http://\(adminAddress)")
            } catch {
                await server.shutdown()
                for curl in curls { await curl.shutdown() }
                Console.error("corsproxy: cannot listen on \(admin.listen) (admin.listen): \(error)")
                throw ExitCode(1)
            }
            services.append(adminServer)
        }
        let group = ServiceGroup(
            services: services + [reloader] + curls + [server],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}

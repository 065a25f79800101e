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
            Prints `corsproxy listening on http://HOST:PORT` (https with `tls`) once ready, then one log line per request on \
            standard error. SIGINT or SIGTERM stops accepting connections, lets requests in flight finish, and \
            exits 0.

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

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

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
        let server = ProxyServer(config: config, curl: curls, logger: logger)
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
        let group = ServiceGroup(
            services: curls + [server, reloader],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}

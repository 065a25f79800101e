import CORSProxy
import CurlBridge
import Foundation
import InMemoryLogging
import Logging
import NIOConcurrencyHelpers

/// libcurl's global set-up, done once for the whole test process.
let curlGlobal: Void = {
    signal(SIGPIPE, SIG_IGN)
    try! CurlGlobal.initialize()
}()

/// The proxy running in this test process: the real server, the real curl loop, on 127.0.0.1:0.
struct RunningProxy: Sendable {
    let port: Int
    let logs: InMemoryLogHandler
    let accessLog: AccessLines
    /// `https` when the config has `tls`.
    var scheme = "http"
    /// The listener's certificate store, with `tls`.
    var certificates: CertificateStore?

    var url: String { "\(self.scheme)://127.0.0.1:\(self.port)" }

    /// The first log line containing `text`, waiting for it: a request's line is written when both its
    /// directions are done, which for an answer the proxy gives itself can be just after the client has it.
    func logLine(containing text: String = "", timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = self.logLines.first(where: { text.isEmpty || $0.contains(text) }) { return line }
            guard ContinuousClock.now < deadline else {
                throw TestFailure("no log line containing \(text.debugDescription)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Every log line, rendered as `message key=value…`, for assertions: the server's own events, then the
    /// access log's JSON lines as `request key=value… ` (keys sorted, each after a space, a space at the end).
    var logLines: [String] {
        self.logs.entries.map { entry in
            "\(entry.message) "
                + entry.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        } + self.accessLog.lines.map(AccessLines.rendered)
    }
}

/// A config with one `/` route to `upstream` and the given `cors` and top-level extras (JSON fragments).
func testConfig(upstream: String, cors: String = defaultCORS, extra: String = "", route: String = "") -> String {
    let routeExtra = route.isEmpty ? "" : ", \(route)"
    return """
        {"listen": "127.0.0.1:0",
         "routes": [{"prefix": "/", "upstream": "\(upstream)"\(routeExtra)}],
         "cors": \(cors)\(extra.isEmpty ? "" : ", \(extra)")}
        """
}

let defaultCORS = """
    {"allowedOrigins": ["http://localhost:3000", "https://*.example.com", "http://127.0.0.1:*"],
     "allowedHeaders": ["Authorization", "Content-Type", "Procore-Company-Id"],
     "exposedHeaders": ["Total", "Link", "Retry-After"],
     "allowCredentials": true, "maxAge": 600}
    """

/// Starts the proxy on `configJSON` with `curlLoops` curl loops (by default two, as `serve` runs on a two-core
/// machine: each event loop's connections use their own), runs `body`, then shuts the proxy down gracefully.
func withProxy<T>(
    _ configJSON: String,
    curlLoops: Int = 2,
    _ body: (RunningProxy) async throws -> T
) async throws -> T {
    _ = curlGlobal
    var config = try ProxyConfig.parse(Data(configJSON.utf8))
    config.listen = ListenAddress(host: "127.0.0.1", port: 0)
    config.log.format = .json
    let logs = InMemoryLogHandler()
    let accessLog = AccessLines()
    let logger = Logger(label: "corsproxy-test") { _ in logs }
    let curls = (0..<curlLoops).map { _ in CurlLoop(logger: logger) }
    let server = ProxyServer(
        config: config,
        curl: curls,
        logger: logger,
        accessLog: accessLog,
        drainTimeout: .seconds(5)
    )
    let address: ListenAddress
    do {
        address = try await server.start()
    } catch {
        // The curl loops' threads are already running.
        for curl in curls { await curl.shutdown() }
        throw error
    }
    do {
        let running = RunningProxy(
            port: address.port,
            logs: logs,
            accessLog: accessLog,
            scheme: config.scheme,
            certificates: server.certificates
        )
        let result = try await body(running)
        await server.shutdown()
        for curl in curls { await curl.shutdown() }
        return result
    } catch {
        await server.shutdown()
        for curl in curls { await curl.shutdown() }
        throw error
    }
}

/// Starts a test upstream, runs `body`, stops it.
func withUpstream<T>(_ body: (TestUpstream) async throws -> T) async throws -> T {
    try await withStarted(TestUpstream.start(), body)
}

/// The built `corsproxy` executable: `CORSPROXY_BIN`, else the one next to the test bundle's build products.
func corsproxyExecutable() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let candidates =
        [ProcessInfo.processInfo.environment["CORSPROXY_BIN"]].compactMap { $0 }
        + [Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("corsproxy").path]
        + ["debug", "release"].map { root.appendingPathComponent(".build/\($0)/corsproxy").path }
    guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TestFailure("corsproxy executable not found in \(candidates); run `swift build` first")
    }
    return path
}

/// Starts `corsproxy serve` as its own process (``ProxyProcess/start(configJSON:arguments:)``), runs `body`, then
/// kills the process if it is still running, also when `body` throws: a test that stops the proxy itself (to
/// check its exit status or its logs) finds it stopped; one that failed halfway leaves no process behind.
func withProxyProcess<T>(
    configJSON: String,
    arguments: [String] = [],
    hasAdminListener: Bool = false,
    environment: [String: String] = [:],
    _ body: (ProxyProcess) async throws -> T
) async throws -> T {
    try await withStartedProxyProcess(
        try await ProxyProcess.start(
            configJSON: configJSON,
            arguments: arguments,
            hasAdminListener: hasAdminListener,
            environment: environment
        ),
        body
    )
}

/// ``withProxyProcess(configJSON:arguments:hasAdminListener:_:)`` on a config file already written (a symlinked
/// layout, say).
func withProxyProcess<T>(
    configPath: String,
    arguments: [String] = [],
    _ body: (ProxyProcess) async throws -> T
) async throws -> T {
    try await withStartedProxyProcess(try await ProxyProcess.start(configPath: configPath, arguments: arguments), body)
}

private func withStartedProxyProcess<T>(
    _ proxy: ProxyProcess,
    _ body: (ProxyProcess) async throws -> T
) async throws -> T {
    try await withStarted(proxy, stoppedBy: { await $0.forceStop() }, body)
}

/// `corsproxy` running as its own process, as a user starts it.
final class ProxyProcess: Sendable {
    let process: ChildProcess
    let port: Int
    /// The config file it was started with.
    let configPath: String
    /// `http`, or `https` when the ready line said so.
    let scheme: String
    /// The admin listener's port, from the second ready line, when the config has one.
    let adminPort: Int?
    private let stderrData: LockedData

    var url: String { "\(self.scheme)://127.0.0.1:\(self.port)" }
    var adminURL: String { "http://127.0.0.1:\(self.adminPort ?? 0)" }
    var pid: Int32 { self.process.pid }
    var stderr: String { String(decoding: self.stderrData.value.withLockedValue { $0 }, as: UTF8.self) }

    private init(
        process: ChildProcess,
        port: Int,
        configPath: String,
        scheme: String,
        adminPort: Int?,
        stderrData: LockedData
    ) {
        self.process = process
        self.port = port
        self.configPath = configPath
        self.scheme = scheme
        self.adminPort = adminPort
        self.stderrData = stderrData
    }

    /// Writes `configJSON` to a file and runs `corsproxy serve --config FILE --listen 127.0.0.1:0`; returns once
    /// the ready line names the port (and, with `hasAdminListener`, the admin ready line after it); `environment`
    /// is added to the test's own.
    static func start(
        configJSON: String,
        arguments: [String] = [],
        hasAdminListener: Bool = false,
        environment: [String: String] = [:]
    ) async throws -> ProxyProcess {
        let configPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "corsproxy-\(UUID().uuidString).json"
        ).path
        try Data(configJSON.utf8).write(to: URL(fileURLWithPath: configPath))
        return try await self.start(
            configPath: configPath,
            arguments: arguments,
            hasAdminListener: hasAdminListener,
            environment: environment
        )
    }

    /// Runs `corsproxy serve --config configPath --listen 127.0.0.1:0` on a config file already written.
    static func start(
        configPath: String,
        arguments: [String] = [],
        hasAdminListener: Bool = false,
        environment: [String: String] = [:]
    ) async throws -> ProxyProcess {
        let process = try ChildProcess(
            try corsproxyExecutable(),
            ["serve", "--config", configPath, "--listen", "127.0.0.1:0"] + arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
            standardOutput: .pipe,
            standardError: .pipe
        )
        let stderrData = LockedData()
        process.standardError!.readabilityHandler = { handle in
            let data = handle.availableData
            stderrData.value.withLockedValue { $0.append(data) }
        }
        do {
            let lines = try await readLines(
                process.standardOutput!,
                count: hasAdminListener ? 2 : 1,
                timeout: .seconds(20)
            )
            let ready = lines.first ?? ""
            let scheme = ready.hasPrefix("corsproxy listening on https://") ? "https" : "http"
            guard let portText = ready.split(separator: ":").last, let port = Int(portText),
                ready.hasPrefix("corsproxy listening on \(scheme)://127.0.0.1:")
            else {
                throw TestFailure("unexpected ready line: \(ready)")
            }
            var adminPort: Int?
            if hasAdminListener {
                guard lines.count == 2, lines[1].hasPrefix("corsproxy admin listening on http://127.0.0.1:"),
                    let text = lines[1].split(separator: ":").last, let port = Int(text)
                else {
                    throw TestFailure("unexpected admin ready line: \(lines.dropFirst())")
                }
                adminPort = port
            }
            return ProxyProcess(
                process: process,
                port: port,
                configPath: configPath,
                scheme: scheme,
                adminPort: adminPort,
                stderrData: stderrData
            )
        } catch {
            // No ready line (or a wrong one): the process may still be running, and nothing else would stop it.
            await Self.killAndWait(process)
            throw error
        }
    }

    /// The lines of standard error that contain `text`.
    func stderrLines(containing text: String) -> [String] {
        self.stderr.split(separator: "\n").filter { $0.contains(text) }.map(String.init)
    }

    /// Waits until standard error has at least `count` lines containing `text`, and returns them.
    @discardableResult
    func waitForStderr(
        _ text: String,
        count: Int = 1,
        timeout: Duration = .seconds(10)
    ) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let lines = self.stderrLines(containing: text)
            if lines.count >= count { return lines }
            guard ContinuousClock.now < deadline else {
                throw TestFailure(
                    "\(lines.count) of \(count) stderr lines containing \(text.debugDescription):\n\(self.stderr)"
                )
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends a signal and waits for the exit status.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) async throws -> Int32 {
        self.process.send(signal)
        return try await self.waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: Duration) async throws -> Int32 {
        // SIGTERM is a graceful shutdown to corsproxy, which is what did not finish in time: SIGKILL after it.
        guard let status = await self.process.waitForExit(killingAfter: timeout) else {
            throw TestFailure("corsproxy did not exit within \(timeout)")
        }
        return status
    }

    /// Kills the proxy if it is still running and waits for it to go: SIGKILL, since a test that gets here
    /// either stopped it already or failed, and there is nothing left to drain.
    func forceStop() async {
        await Self.killAndWait(self.process)
    }

    private static func killAndWait(_ process: ChildProcess) async {
        process.kill()
        _ = await process.waitForExit()
    }

    /// Resident and peak resident memory in KiB, from /proc.
    func memory() throws -> (rss: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(self.pid)/status", encoding: .utf8)
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// Resets the peak-RSS counter (VmHWM), so a later reading covers only what follows.
    func resetPeak() {
        try? "5".write(toFile: "/proc/\(self.pid)/clear_refs", atomically: false, encoding: .utf8)
    }
}

/// Bytes appended from one thread and read from another.
final class LockedData: Sendable {
    let value = NIOLockedValueBox(Data())
}

/// Reads `count` lines from a pipe (fewer if it ends first), failing after `timeout`.
private func readLines(_ handle: FileHandle, count: Int, timeout: Duration) async throws -> [String] {
    let line = NIOLockedValueBox(Data())
    let deadline = ContinuousClock.now + timeout
    return try await withCheckedThrowingContinuation { continuation in
        let resumed = NIOLockedValueBox(false)
        handle.readabilityHandler = { handle in
            let data = handle.availableData
            let text: [String]? = line.withLockedValue { buffer in
                buffer.append(data)
                let lines = buffer.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    .map { String(decoding: $0, as: UTF8.self) }
                if data.isEmpty { return lines.filter { !$0.isEmpty } }
                // The last element is the unfinished line.
                return lines.count > count ? Array(lines.prefix(count)) : nil
            }
            guard let text,
                resumed.withLockedValue({
                    let first = !$0
                    $0 = true
                    return first
                })
            else { return }
            handle.readabilityHandler = nil
            continuation.resume(returning: text)
        }
        Task {
            try? await Task.sleep(until: deadline)
            guard
                resumed.withLockedValue({
                    let first = !$0
                    $0 = true
                    return first
                })
            else { return }
            handle.readabilityHandler = nil
            continuation.resume(throwing: TestFailure("no ready line within \(timeout)"))
        }
    }
}

import CORSProxy
import CurlBridge
import Foundation
import InMemoryLogging
import Logging

/// The proxy in this process started from a config file, with a ``ConfigReloader`` on it that watches nothing
/// (the test calls ``ConfigReloader/reload(trigger:)``); `--listen 127.0.0.1:0` as `serve` would be given it.
struct ReloadableProxy: Sendable {
    let running: RunningProxy
    let reloader: ConfigReloader
    let server: ProxyServer
    let configPath: String

    /// Replaces the config file's content.
    func write(_ json: String) throws {
        try Data(json.utf8).write(to: URL(fileURLWithPath: self.configPath))
    }
}

func withReloadableProxy<T>(_ configJSON: String, _ body: (ReloadableProxy) async throws -> T) async throws -> T {
    _ = curlGlobal
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/proxy.json"
    try Data(configJSON.utf8).write(to: URL(fileURLWithPath: path))
    let listen = ListenAddress(host: "127.0.0.1", port: 0)
    var config = try ProxyConfig.load(path: path)
    config.listen = listen
    // The file's log.format stays (a reload reports a different one as needing a restart): the access log is
    // text here, and logLines shows its lines as written.
    let logs = InMemoryLogHandler()
    let accessLog = AccessLines()
    let logger = Logger(label: "corsproxy-test") { _ in logs }
    let curls = [CurlLoop(logger: logger)]
    let server = ProxyServer(
        config: config,
        curl: curls,
        logger: logger,
        accessLog: accessLog,
        drainTimeout: .seconds(5)
    )
    let reloader = ConfigReloader(
        server: server,
        path: path,
        listenOverride: listen,
        watchesFile: false,
        logger: logger
    )
    let address: ListenAddress
    do {
        address = try await server.start()
    } catch {
        for curl in curls { await curl.shutdown() }
        throw error
    }
    let proxy = ReloadableProxy(
        running: RunningProxy(port: address.port, logs: logs, accessLog: accessLog),
        reloader: reloader,
        server: server,
        configPath: path
    )
    do {
        let result = try await body(proxy)
        await server.shutdown()
        for curl in curls { await curl.shutdown() }
        return result
    } catch {
        await server.shutdown()
        for curl in curls { await curl.shutdown() }
        throw error
    }
}

/// A new empty directory under the temporary directory.
func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("corsproxy-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A config with one `/` route to `upstream` that allows exactly `origins` (no credentials), plus extra top-level
/// keys (a JSON fragment).
func reloadConfig(upstream: String, origins: [String], extra: String = "") -> String {
    let list = origins.map { "\"\($0)\"" }.joined(separator: ", ")
    return """
        {"listen": "127.0.0.1:8787",
         "routes": [{"prefix": "/", "upstream": "\(upstream)"}],
         "cors": {"allowedOrigins": [\(list)]}\(extra.isEmpty ? "" : ", \(extra)")}
        """
}

import CORSProxy
import CurlBridge
import Foundation
import InMemoryLogging
import Logging

/// The proxy and its admin listener, running in this test process.
struct RunningAdminProxy: Sendable {
    let proxy: RunningProxy
    let adminPort: Int
    let metrics: ProxyMetrics?

    var url: String { self.proxy.url }
    var adminURL: String { "http://127.0.0.1:\(self.adminPort)" }

    /// One scrape of `/metrics`, parsed.
    func scrape() async throws -> Scrape {
        let result = try await http(self.adminURL + "/metrics")
        guard result.status == 200 else { throw TestFailure("/metrics answered \(result.status)") }
        return Scrape(text: String(decoding: result.body, as: UTF8.self))
    }
}

/// Starts the proxy on `configJSON` (its `admin.listen` and `listen` both moved to port 0) and its admin listener,
/// runs `body`, then stops both: the proxy first, as `serve` does.
func withAdminProxy<T>(
    _ configJSON: String,
    _ body: (RunningAdminProxy) async throws -> T
) async throws -> T {
    _ = curlGlobal
    var config = try ProxyConfig.parse(Data(configJSON.utf8))
    config.listen = ListenAddress(host: "127.0.0.1", port: 0)
    config.admin = ProxyConfig.Admin(listen: ListenAddress(host: "127.0.0.1", port: 0))
    config.log.format = .json
    let logs = InMemoryLogHandler()
    let accessLog = AccessLines()
    let logger = Logger(label: "corsproxy-test") { _ in logs }
    let curls = (0..<2).map { _ in CurlLoop(logger: logger) }
    let server = ProxyServer(
        config: config,
        curl: curls,
        logger: logger,
        accessLog: accessLog,
        drainTimeout: .seconds(5)
    )
    let admin = AdminServer(proxy: server, listen: config.admin!.listen, logger: logger)
    let stop = {
        await server.shutdown()
        await admin.shutdown()
        for curl in curls { await curl.shutdown() }
    }
    do {
        let address = try await server.start()
        let adminAddress = try await admin.start()
        let running = RunningAdminProxy(
            proxy: RunningProxy(port: address.port, logs: logs, accessLog: accessLog),
            adminPort: adminAddress.port,
            metrics: server.metrics
        )
        let result = try await body(running)
        await stop()
        return result
    } catch {
        await stop()
        throw error
    }
}

/// A Prometheus text exposition, read back: each sample line as its series (name and labels, as printed) and
/// value.
struct Scrape: Sendable {
    let text: String

    /// `series → value` for every sample line.
    var samples: [String: Double] {
        var samples: [String: Double] = [:]
        for line in self.text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// The value of the series `name{labels}` whose labels include every one of `labels` (in any order), summed
    /// over the matching series; 0 when none matches.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        self.samples.filter { series, _ in
            guard Self.name(of: series) == name else { return false }
            let present = Self.labels(of: series)
            return labels.allSatisfy { present[$0.key] == $0.value }
        }.values.reduce(0, +)
    }

    static func name(of series: String) -> String {
        String(series.prefix { $0 != "{" })
    }

    /// The labels of `name{a="x",b="y"}`; label values here hold no quotes or commas.
    static func labels(of series: String) -> [String: String] {
        guard let open = series.firstIndex(of: "{") else { return [:] }
        let inner = series[series.index(after: open)...].dropLast()
        var labels: [String: String] = [:]
        for pair in inner.split(separator: ",") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            labels[String(pair[..<equals])] = String(pair[pair.index(after: equals)...].dropFirst().dropLast())
        }
        return labels
    }
}

internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1

/// One version of the checked config and everything precomputed from it. Immutable: an exchange takes the
/// snapshot in force when its head arrives and reads its policy, routes, limits and timeouts only from it, so a
/// reload that swaps the snapshot (``ConfigStore``) never changes the rules halfway through a request.
package final class ConfigSnapshot: Sendable {
    let config: ProxyConfig
    /// 1 for the config the server started with, one more for each reload that applied a change
    /// (``ConfigReloader``): what `/config` and the log name the version by.
    let version: Int
    let policy: CORSPolicy
    /// Chooses injected faults; `nil` when the config has no fault rules and no request control.
    let faults: FaultInjector?
    let corsHeaders: CORSOutcome.Headers
    let router: Router
    let allowedHosts: Set<String>
    /// The proxy's own scheme (`https` with `tls`), for rewritten URLs and `X-Forwarded-Proto`.
    let scheme: String
    /// The deadlines a connection's state machine keeps.
    let connectionTimeouts: ConnectionStateMachine.Timeouts
    /// `timeouts.connect`, `timeouts.total` (0: none) and `timeouts.idle` (0: none) in libcurl's units.
    package let connectTimeoutMilliseconds: Int
    package let totalTimeoutMilliseconds: Int
    package let stallTimeoutSeconds: Int

    /// - Parameters:
    ///   - config: The checked config.
    ///   - version: Its number: 1 at start, one more per applied reload.
    package init(config: ProxyConfig, version: Int = 1) {
        self.config = config
        self.version = version
        self.scheme = config.scheme
        var cors = config.cors
        if config.faults.requestControl,
            !cors.allowedHeaders.contains(where: { ASCII.equalsIgnoringCase($0, FaultInjector.header) })
        {
            // The browser must be let to send the header that names a fault.
            cors.allowedHeaders.append("X-Corsproxy-Fault")
        }
        self.policy = CORSPolicy(configuration: cors)
        let hasRules = config.routes.contains { !$0.faults.isEmpty }
        self.faults = hasRules || config.faults.requestControl ? FaultInjector(settings: config.faults) : nil
        self.corsHeaders = CORSOutcome.Headers(policy: self.policy)
        self.router = Router(routes: config.routes)
        self.allowedHosts = config.effectiveAllowedHosts
        let timeouts = config.timeouts
        self.connectionTimeouts = ConnectionStateMachine.Timeouts(
            clientHeader: TimeAmount(timeouts.clientHeader),
            idle: timeouts.idle.map { TimeAmount($0) }
        )
        self.connectTimeoutMilliseconds = Int(timeouts.connect / .milliseconds(1))
        self.totalTimeoutMilliseconds = timeouts.total.map { Int($0 / .milliseconds(1)) } ?? 0
        self.stallTimeoutSeconds = timeouts.idle.map { Int(($0 / .seconds(1)).rounded(.up)) } ?? 0
    }

    /// What CORS makes of a request head, given the policy's verdict on its `Origin`, that `Origin` parsed (`nil`
    /// when absent or malformed; fault rules filter on it) and its route.
    func outcome(
        for head: HTTPRequestHead,
        verdict: CORSPolicy.OriginVerdict,
        origin: Origin?,
        route: ProxyConfig.Route?
    ) -> CORSOutcome {
        CORSOutcome(
            head: head,
            verdict: verdict,
            policy: self.policy,
            headers: self.corsHeaders,
            faults: self.faults.map { ($0, route?.faults ?? [], origin) }
        )
    }

    /// The host name part of a `Host` header, lowercased: `[::1]:8787` → `[::1]`, `Example.com:80` → `example.com`;
    /// `nil` unless what follows the name is nothing or `:` and a decimal port.
    static func hostName(_ host: String) -> String? {
        var host = host
        return host.withUTF8 { bytes in
            var nameEnd = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
            if bytes.first == UInt8(ascii: "[") {
                guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
                nameEnd = close + 1
            }
            let port = bytes[nameEnd...].dropFirst()
            guard
                nameEnd == bytes.endIndex
                    || (bytes[nameEnd] == UInt8(ascii: ":") && (1...5).contains(port.count) && ASCII.isDecimal(port))
            else { return nil }
            let name = UnsafeBufferPointer(rebasing: bytes[..<nameEnd])
            guard name.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
                return String(decoding: name, as: UTF8.self)
            }
            return String(unsafeUninitializedCapacity: name.count) { out in
                for index in name.indices { out[index] = ASCII.lowercased(name[index]) }
                return name.count
            }
        }
    }
}

/// The config snapshot in force for one server. Each exchange reads ``current`` once, when its head arrives;
/// ``replace(with:)`` swaps it whole, so kept-alive connections take the new one at their next request.
final class ConfigStore: Sendable {
    private let snapshot: NIOLockedValueBox<ConfigSnapshot>

    init(_ snapshot: ConfigSnapshot) {
        self.snapshot = NIOLockedValueBox(snapshot)
    }

    var current: ConfigSnapshot { self.snapshot.withLockedValue { $0 } }

    func replace(with snapshot: ConfigSnapshot) {
        self.snapshot.withLockedValue { $0 = snapshot }
    }
}

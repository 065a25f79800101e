/// What differs between the config in force and a reloaded one, as the lines the reload logs and returns.
///
/// Origins are compared by pattern (`cors.allowedOrigins: added "https://b.example.com"`), routes by
/// `prefix → upstream` (`routes: added /api → https://api.example.com`; a route whose upstream changed is one
/// removed and one added), and every other key by its key path (`cors.maxAge: 600 → 60`,
/// `routes[/api].stripPrefix: false → true`).
///
/// ``needsRestart`` lists what a running server cannot take: the `listen` address, `tls` (turned on or off,
/// or pointing at other files: the ``CertificateStore`` watches the paths it started with; new contents of the
/// same files are picked up by that store without a reload), the admin listener, `log.format`,
/// `timeouts.drain`, `timeouts.lameDuck` and `limits.maxConnections` (the listener's handler counts against the
/// limit it started with), all fixed when the server starts. `limits.rateLimit`, `trustedProxies` and
/// `forwardedHeaders` apply to the next request; the rate limit's buckets are kept, rescaled to a changed rate or
/// burst. A reload applies everything else and keeps these as they were (``applying(to:)``), so a config that
/// also moves the port still changes the allowlist now.
struct ConfigChanges: Sendable, Hashable {
    /// Changes the reload applies, one line each.
    var applied: [String] = []
    /// Changes that need a restart and are not applied, one line each.
    var needsRestart: [String] = []

    var isEmpty: Bool { self.applied.isEmpty && self.needsRestart.isEmpty }

    /// - Parameters:
    ///   - old: The config in force.
    ///   - new: The config just read (with `serve --listen` already applied to it, so an override is no change).
    init(from old: ProxyConfig, to new: ProxyConfig) {
        if old.listen != new.listen {
            self.needsRestart.append("listen: \(old.listen) → \(new.listen)")
        }
        if old.tls != new.tls {
            self.needsRestart.append("tls: \(Self.describe(old.tls)) → \(Self.describe(new.tls))")
        }
        // Fixed when the server starts: the admin listener (and with it the metrics), the access log's format,
        // and how long a drain waits (and the lame duck before it).
        let (oldAdmin, newAdmin) = (
            old.admin.map { "\($0.listen)" } ?? "off", new.admin.map { "\($0.listen)" } ?? "off"
        )
        if oldAdmin != newAdmin { self.needsRestart.append("admin.listen: \(oldAdmin) → \(newAdmin)") }
        if old.log.format != new.log.format {
            self.needsRestart.append("log.format: \(old.log.format.rawValue) → \(new.log.format.rawValue)")
        }
        if old.timeouts.drain != new.timeouts.drain {
            self.needsRestart.append(
                "timeouts.drain: \(Self.seconds(old.timeouts.drain)) → \(Self.seconds(new.timeouts.drain))"
            )
        }
        if old.timeouts.lameDuck != new.timeouts.lameDuck {
            self.needsRestart.append(
                "timeouts.lameDuck: \(Self.seconds(old.timeouts.lameDuck)) → \(Self.seconds(new.timeouts.lameDuck))"
            )
        }
        if old.limits.maxConnections != new.limits.maxConnections {
            self.needsRestart.append(
                "limits.maxConnections: \(old.limits.maxConnections) → \(new.limits.maxConnections)"
            )
        }
        self.compareOrigins(old.cors.allowedOrigins, new.cors.allowedOrigins)
        self.compareRoutes(old.routes, new.routes)
        for key in Self.keys {
            let (before, after) = (key.value(old), key.value(new))
            if before != after { self.applied.append("\(key.path): \(before) → \(after)") }
        }
    }

    /// `new` with what needs a restart kept as it is in `old`: the config a reload puts in force.
    static func applying(_ new: ProxyConfig, keeping old: ProxyConfig) -> ProxyConfig {
        var config = new
        config.listen = old.listen
        config.tls = old.tls
        config.admin = old.admin
        config.log = old.log
        config.timeouts.drain = old.timeouts.drain
        config.timeouts.lameDuck = old.timeouts.lameDuck
        config.limits.maxConnections = old.limits.maxConnections
        return config
    }

    private mutating func compareOrigins(_ old: [OriginPattern], _ new: [OriginPattern]) {
        let (before, after) = (old.map(\.source), new.map(\.source))
        for source in after where !before.contains(source) {
            self.applied.append("cors.allowedOrigins: added \"\(source)\"")
        }
        for source in before where !after.contains(source) {
            self.applied.append("cors.allowedOrigins: removed \"\(source)\"")
        }
        if Set(before) == Set(after), before != after {
            // The same patterns in another order: the first that matches decides nothing, but say it moved.
            self.applied.append("cors.allowedOrigins: reordered")
        }
    }

    private mutating func compareRoutes(_ old: [ProxyConfig.Route], _ new: [ProxyConfig.Route]) {
        func name(_ route: ProxyConfig.Route) -> String { "\(route.prefix) → \(route.upstream)" }
        let before = Dictionary(old.map { (name($0), $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(new.map { (name($0), $0) }, uniquingKeysWith: { first, _ in first })
        for route in new where before[name(route)] == nil { self.applied.append("routes: added \(name(route))") }
        for route in old where after[name(route)] == nil { self.applied.append("routes: removed \(name(route))") }
        for route in new {
            guard let previous = before[name(route)] else { continue }
            for key in Self.routeKeys {
                let (was, now) = (key.value(previous), key.value(route))
                if was != now { self.applied.append("routes[\(route.prefix)].\(key.path): \(was) → \(now)") }
            }
        }
    }

    /// A key path and how to print its value; two configs differ in a key when the printed values differ.
    private struct Key<Value>: Sendable {
        var path: String
        var value: @Sendable (Value) -> String
    }

    private static let keys: [Key<ProxyConfig>] = [
        Key(path: "cors.allowedMethods") { list($0.cors.allowedMethods) },
        Key(path: "cors.allowedHeaders") { list($0.cors.allowedHeaders) },
        Key(path: "cors.exposedHeaders") { list($0.cors.exposedHeaders) },
        Key(path: "cors.allowCredentials") { "\($0.cors.allowCredentials)" },
        Key(path: "cors.maxAge") { "\($0.cors.maxAge)" },
        Key(path: "cors.allowPrivateNetwork") { "\($0.cors.allowPrivateNetwork)" },
        Key(path: "cors.disallowedOrigin") { $0.cors.disallowedOrigin.rawValue },
        Key(path: "cors.mode") { $0.cors.mode.rawValue },
        Key(path: "allowedHosts") { list($0.allowedHosts) },
        Key(path: "timeouts.connect") { seconds($0.timeouts.connect) },
        Key(path: "timeouts.total") { seconds($0.timeouts.total) },
        Key(path: "timeouts.idle") { seconds($0.timeouts.idle) },
        Key(path: "timeouts.clientHeader") { seconds($0.timeouts.clientHeader) },
        Key(path: "limits.maxHeaderBytes") { "\($0.limits.maxHeaderBytes)" },
        Key(path: "limits.maxBodyBytes") { "\($0.limits.maxBodyBytes)" },
        Key(path: "limits.rateLimit") { describe($0.limits.rateLimit) },
        Key(path: "trustedProxies") { list($0.trustedProxies.map(\.source)) },
        Key(path: "forwardedHeaders") { $0.forwardedHeaders.rawValue },
        Key(path: "faults.requestControl") { "\($0.faults.requestControl)" },
        Key(path: "faults.seed") { $0.faults.seed.map { "\($0)" } ?? "none" },
    ]

    private static let routeKeys: [Key<ProxyConfig.Route>] = [
        Key(path: "stripPrefix") { "\($0.stripPrefix)" },
        Key(path: "forwardCookies") { "\($0.forwardCookies)" },
        Key(path: "http2") { "\($0.http2)" },
        Key(path: "caFile") { $0.caFile ?? "none" },
        Key(path: "faults") { list($0.faults.map(describe)) },
        Key(path: "upstreamBudget.minimumRemaining") { $0.upstreamBudget.map { "\($0.minimumRemaining)" } ?? "none" },
        Key(path: "proxy") { $0.proxy?.description ?? "none" },
    ]

    private static func list(_ items: [String]) -> String {
        "[" + items.joined(separator: ", ") + "]"
    }

    /// Seconds as the file writes them; `0` for none.
    private static func seconds(_ duration: Duration?) -> String {
        guard let duration else { return "0" }
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return ConfigReader.format(value)
    }

    private static func describe(_ limit: ProxyConfig.RateLimit?) -> String {
        limit.map { "{key: \($0.key.rawValue), rate: \(ConfigReader.format($0.rate)), burst: \($0.burst)}" } ?? "off"
    }

    private static func describe(_ tls: ProxyConfig.TLS?) -> String {
        tls.map { "{certificate: \($0.certificate), privateKey: \($0.privateKey)}" } ?? "off"
    }

    private static func describe(_ rule: ProxyConfig.FaultRule) -> String {
        var text = "\(rule.fault)"
        if rule.rate != 1 { text += " rate \(ConfigReader.format(rule.rate))" }
        if let methods = rule.methods { text += " methods \(list(methods))" }
        if let origins = rule.origins { text += " origins \(list(origins.map(\.source)))" }
        return text
    }
}

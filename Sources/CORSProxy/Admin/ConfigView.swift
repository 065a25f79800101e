internal import NIOCore

/// The admin listener's `GET /config`: the config in force, as proxy.json spells it, with its version.
///
/// An allowlist, field by field, rather than an echo of the file: a setting is shown only once it is written
/// here, so a later secret (a TLS private key path, a token) never appears by default. Today's config holds no
/// secret; upstream URLs carry no user info (the loader refuses it), and CA file paths are shown as paths.
struct ConfigView: Encodable {
    struct Route: Encodable {
        var prefix: String
        var upstream: String
        var stripPrefix: Bool
        var forwardCookies: Bool
        var http2: Bool
        var caFile: String?
        var faults: [FaultRule]
        var upstreamBudget: Budget?
        /// `http://host:port`: the config refuses user info, so there is no password to hide.
        var proxy: String?
    }

    struct Budget: Encodable {
        var minimumRemaining: Int
    }

    struct FaultRule: Encodable {
        var fault: String
        var rate: Double
        var methods: [String]?
        var origins: [String]?
    }

    struct CORS: Encodable {
        var allowedOrigins: [String]
        var allowedMethods: [String]
        var allowedHeaders: [String]
        var exposedHeaders: [String]
        var allowCredentials: Bool
        var maxAge: Int
        var allowPrivateNetwork: Bool
        var disallowedOrigin: String
        var mode: String
    }

    /// Seconds, as in the file; 0 for "no limit".
    struct Timeouts: Encodable {
        var connect: Double
        var total: Double
        var idle: Double
        var clientHeader: Double
        var drain: Double
        var lameDuck: Double
    }

    struct Limits: Encodable {
        var maxHeaderBytes: Int
        var maxBodyBytes: Int64
        /// 0 for none.
        var maxConnections: Int
        var rateLimit: RateLimit?
    }

    struct RateLimit: Encodable {
        var key: String
        var rate: Double
        var burst: Int
    }

    struct Faults: Encodable {
        var requestControl: Bool
        var seed: UInt64?
    }

    struct Admin: Encodable {
        var listen: String
    }

    /// Which config this is: 1 at start, one more per reload.
    var version: Int
    var listen: String
    var routes: [Route]
    var cors: CORS
    /// The hosts in force (the default list when the file names none).
    var allowedHosts: [String]
    var timeouts: Timeouts
    var limits: Limits
    var trustedProxies: [String]
    var forwardedHeaders: String
    var faults: Faults
    var admin: Admin?

    init(_ snapshot: ConfigSnapshot) {
        let config = snapshot.config
        func seconds(_ duration: Duration?) -> Double { duration.map { $0 / .seconds(1) } ?? 0 }
        self.version = snapshot.version
        self.listen = config.listen.description
        self.routes = config.routes.map { route in
            Route(
                prefix: route.prefix,
                upstream: route.upstream.description,
                stripPrefix: route.stripPrefix,
                forwardCookies: route.forwardCookies,
                http2: route.http2,
                caFile: route.caFile,
                faults: route.faults.map { rule in
                    FaultRule(
                        fault: rule.fault.description,
                        rate: rule.rate,
                        methods: rule.methods,
                        origins: rule.origins?.map(\.source)
                    )
                },
                upstreamBudget: route.upstreamBudget.map { Budget(minimumRemaining: $0.minimumRemaining) },
                proxy: route.proxy?.description
            )
        }
        let cors = config.cors
        self.cors = CORS(
            allowedOrigins: cors.allowedOrigins.map(\.source),
            allowedMethods: cors.allowedMethods,
            allowedHeaders: cors.allowedHeaders,
            exposedHeaders: cors.exposedHeaders,
            allowCredentials: cors.allowCredentials,
            maxAge: cors.maxAge,
            allowPrivateNetwork: cors.allowPrivateNetwork,
            disallowedOrigin: cors.disallowedOrigin.rawValue,
            mode: cors.mode.rawValue
        )
        self.allowedHosts = snapshot.allowedHosts.sorted()
        let timeouts = config.timeouts
        self.timeouts = Timeouts(
            connect: seconds(timeouts.connect),
            total: seconds(timeouts.total),
            idle: seconds(timeouts.idle),
            clientHeader: seconds(timeouts.clientHeader),
            drain: seconds(timeouts.drain),
            lameDuck: seconds(timeouts.lameDuck)
        )
        let limits = config.limits
        self.limits = Limits(
            maxHeaderBytes: limits.maxHeaderBytes,
            maxBodyBytes: limits.maxBodyBytes,
            maxConnections: limits.maxConnections,
            rateLimit: limits.rateLimit.map { RateLimit(key: $0.key.rawValue, rate: $0.rate, burst: $0.burst) }
        )
        self.trustedProxies = config.trustedProxies.map(\.source)
        self.forwardedHeaders = config.forwardedHeaders.rawValue
        self.faults = Faults(requestControl: config.faults.requestControl, seed: config.faults.seed)
        self.admin = config.admin.map { Admin(listen: $0.listen.description) }
    }

    /// `{"version": N, "listen": …, "routes": […], …}`, sorted keys.
    static func json(_ snapshot: ConfigSnapshot) -> ByteBuffer {
        JSONBody.encode(ConfigView(snapshot))
    }
}

import ArgumentParser
import CORSProxy

/// `corsproxy validate`: parse and check the config; one line per problem.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the config file and exit: 0 if valid, 1 with one line per problem.",
        discussion:
            "Each problem names its key path, e.g. `proxy.json: cors.allowedOrigins[2]: \"htp://x\" is not an origin`."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        do {
            let config = try ProxyConfig.load(path: self.options.config)
            for warning in config.lint() {
                Console.error(warning.warningLine(file: self.options.config))
            }
            var summary = [
                "\(config.routes.count) route(s)", "\(config.cors.allowedOrigins.count) allowed origin pattern(s)",
                "listen \(config.listen)",
            ]
            summary += Self.limits(of: config)
            print("\(self.options.config): ok (\(summary.joined(separator: ", ")))")
        } catch {
            Console.error("\(error)")
            throw ExitCode(1)
        }
    }

    /// The limits and forwarding settings that differ from the defaults, one summary item each.
    static func limits(of config: ProxyConfig) -> [String] {
        var items: [String] = []
        if let limit = config.limits.rateLimit {
            let rate = limit.rate == limit.rate.rounded() ? String(Int(limit.rate)) : String(limit.rate)
            items.append("rate limit \(rate)/s burst \(limit.burst) per \(limit.key.rawValue) (per instance)")
        }
        if config.limits.maxConnections > 0 { items.append("max \(config.limits.maxConnections) connections") }
        if !config.trustedProxies.isEmpty { items.append("\(config.trustedProxies.count) trusted proxy range(s)") }
        if config.forwardedHeaders != .xForwarded {
            items.append("forwardedHeaders \(config.forwardedHeaders.rawValue)")
        }
        return items
    }
}

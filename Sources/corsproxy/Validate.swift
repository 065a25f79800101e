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
            print(
                "\(self.options.config): ok (\(config.routes.count) route(s), \(config.cors.allowedOrigins.count) allowed origin pattern(s), listen \(config.listen))"
            )
        } catch {
            Console.error("\(error)")
            throw ExitCode(1)
        }
    }
}

import ArgumentParser

/// `corsproxy`: a CORS proxy for browser apps that call an API which has not whitelisted their origin.
@main
struct CorsProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corsproxy",
        abstract: "A CORS proxy for single-page apps: checks Origin against an allowlist and forwards to the API.",
        discussion: """
            The browser app calls the proxy instead of the API. The proxy checks the request's Origin against \
            cors.allowedOrigins, answers preflights itself, forwards everything else through libcurl to the \
            route's upstream, and returns the answer with the Access-Control-* headers a whitelisted origin \
            would get.

            New here? `corsproxy demo` runs everything offline: a Procore stand-in, the proxy and an example SPA. \
            Then `corsproxy validate` and `corsproxy serve`. The default ./proxy.json is a local dev \
            proxy for the Procore sandbox: point your SPA at http://127.0.0.1:8787 instead of \
            https://sandbox.procore.com. `corsproxy doctor` shows what a browser would make of any URL.
            """,
        subcommands: [Serve.self, Validate.self, Doctor.self, Demo.self],
        defaultSubcommand: Serve.self
    )
}

/// Options shared by the commands that read a config file.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("The config file.", valueName: "path"))
    var config = "proxy.json"
}

/// What `corsproxy demo` prints once everything listens: what runs where, then the two lines scripts read
/// (`open:` and `inspector:`, as SPEC.md has them).
struct DemoBanner {
    var spa: String
    var proxy: String
    var admin: String
    var login: String
    var api: String

    /// `url` padded to one column, so the descriptions line up.
    private func pad(_ url: String) -> String {
        url + String(repeating: " ", count: max(0, 26 - url.count))
    }

    var lines: [String] {
        [
            "corsproxy demo: everything runs on this machine, on loopback; nothing is fetched.",
            "",
            "  \(self.pad(self.spa + "/"))  the example SPA, on its own origin (Examples/implicit-grant-spa)",
            "  \(self.pad(self.proxy))  corsproxy: /oauth/ → the login host, the rest → the API host",
            "  \(self.pad(self.admin))  the admin listener: /inspector, /metrics, /config, /healthz",
            "  \(self.pad(self.login))  Procore stand-in, login host: /oauth/authorize, /oauth/token/info",
            "  \(self.pad(self.api))  Procore stand-in, API host: /rest/v1.0/… (it sends no CORS headers)",
            "",
            "Open the SPA and click \"Sign in with Procore\": the stand-in signs you in at once and sends the token",
            "back in the URL fragment; the page then reads /me and every page of projects through the proxy, which",
            "adds the Access-Control-* headers Procore would send only to a whitelisted origin. Each request gets a",
            "line on standard error; the inspector shows them as they finish. Ctrl-C stops everything.",
            "",
            "open:      \(self.spa)/",
            "inspector: \(self.admin)/inspector",
        ]
    }
}

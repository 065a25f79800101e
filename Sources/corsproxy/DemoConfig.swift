import CORSProxy
import FoundationEssentials

/// The proxy config `corsproxy demo` runs, built from the addresses it bound: `/oauth/` to the stand-in's login
/// host and `/` to its API host, the SPA's origin allowed with the shipped `proxy.json`'s CORS settings, an
/// admin listener (for the inspector), the text access log. Parsed and checked as a file would be.
enum DemoConfig {
    static func make(
        proxyPort: Int,
        adminPort: Int,
        login: String,
        api: String,
        spaOrigins: [String]
    ) throws
        -> ProxyConfig
    {
        let origins = spaOrigins.map { "\"\($0)\"" }.joined(separator: ", ")
        let json = """
            {
              "listen": "127.0.0.1:\(proxyPort)",
              "routes": [
                { "prefix": "/oauth/", "upstream": "\(login)" },
                { "prefix": "/", "upstream": "\(api)" }
              ],
              "cors": {
                "allowedOrigins": [\(origins)],
                "allowedMethods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                "allowedHeaders": ["Authorization", "Content-Type", "Accept", "Procore-Company-Id",
                                   "Procore-Sdk-Version", "Procore-Sdk-Language"],
                "exposedHeaders": ["Total", "Per-Page", "Link", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining",
                                   "X-Rate-Limit-Reset", "Retry-After", "X-Request-Id"],
                "allowCredentials": true,
                "maxAge": 600,
                "allowPrivateNetwork": true,
                "disallowedOrigin": "reject"
              },
              "admin": { "listen": "127.0.0.1:\(adminPort)" },
              "log": { "format": "text" }
            }
            """
        return try ProxyConfig.parse(Data(json.utf8), file: "demo config")
    }
}

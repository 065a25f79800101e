public import FoundationEssentials

extension ProxyConfig {
    /// Reads and checks a config file.
    /// - Throws: ``ConfigError`` with every problem found, each with its key path.
    public static func load(path: String) throws -> ProxyConfig {
        let name = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: name, issues: [ConfigIssue(path: "", message: "cannot read the file")])
        }
        return try self.parse(data, file: name, directory: self.directory(of: path))
    }

    /// The directory relative paths in the file at `path` are resolved against: the part before the last `/`.
    static func directory(of path: String) -> String {
        let slash = path.lastIndex(of: "/")
        return slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    }

    /// Parses and checks config JSON.
    /// - Parameters:
    ///   - data: The JSON text.
    ///   - file: The name errors are reported under.
    ///   - directory: What relative `tls` paths are resolved against: the config file's directory (the current
    ///     directory when the JSON came from elsewhere).
    /// - Throws: ``ConfigError`` with every problem found.
    public static func parse(_ data: Data, file: String = "proxy.json", directory: String = ".") throws -> ProxyConfig {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            let problem = JSONSyntax.firstError(in: data) ?? Self.describe(error)
            throw ConfigError(file: file, issues: [ConfigIssue(path: "", message: "not valid JSON: \(problem)")])
        }
        var reader = ConfigReader(directory: directory)
        let config = reader.readConfig(document)
        guard reader.issues.isEmpty else { throw ConfigError(file: file, issues: reader.issues) }
        return config
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// Walks the JSON document, building the config and collecting one ``ConfigIssue`` per problem.
struct ConfigReader {
    var issues: [ConfigIssue] = []
    /// The config file's directory, for relative paths.
    var directory = "."

    mutating func fail(_ path: String, _ message: String) {
        self.issues.append(ConfigIssue(path: path, message: message))
    }

    /// Checks `value` is an object with only `known` keys; unknown keys are problems (usually typos).
    mutating func object(_ value: JSONValue, at path: String, known: [String]) -> [String: JSONValue]? {
        guard case .object(let object) = value else {
            self.fail(path, "expected an object, found \(value.typeName)")
            return nil
        }
        for key in object.keys.sorted() where !known.contains(key) {
            let near = known.first { $0.lowercased() == key.lowercased() }
            self.fail(Self.join(path, key), "unknown key" + (near.map { " (did you mean \"\($0)\"?)" } ?? ""))
        }
        return object
    }

    mutating func string(_ value: JSONValue, at path: String) -> String? {
        guard case .string(let text) = value else {
            self.fail(path, "expected a string, found \(value.typeName)")
            return nil
        }
        return text
    }

    mutating func bool(_ value: JSONValue, at path: String) -> Bool? {
        guard case .bool(let flag) = value else {
            self.fail(path, "expected true or false, found \(value.typeName)")
            return nil
        }
        return flag
    }

    mutating func number(_ value: JSONValue, at path: String, range: ClosedRange<Double>) -> Double? {
        guard case .number(let number) = value else {
            self.fail(path, "expected a number, found \(value.typeName)")
            return nil
        }
        guard range.contains(number) else {
            self.fail(
                path,
                "\(Self.format(number)) is out of range \(Self.format(range.lowerBound))...\(Self.format(range.upperBound))"
            )
            return nil
        }
        return number
    }

    mutating func strings(_ value: JSONValue, at path: String) -> [(String, String)]? {
        guard case .array(let items) = value else {
            self.fail(path, "expected an array of strings, found \(value.typeName)")
            return nil
        }
        return items.enumerated().compactMap { index, item in
            let itemPath = "\(path)[\(index)]"
            return self.string(item, at: itemPath).map { (itemPath, $0) }
        }
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }

    mutating func readConfig(_ document: JSONValue) -> ProxyConfig {
        var config = ProxyConfig()
        let known = [
            "$schema", "listen", "routes", "cors", "allowedHosts", "timeouts", "limits", "faults", "tls", "log",
            "admin", "trustedProxies", "forwardedHeaders",
        ]
        guard let root = self.object(document, at: "", known: known) else { return config }
        if let value = root["listen"], let text = self.string(value, at: "listen") {
            if let address = ListenAddress(text) {
                config.listen = address
            } else {
                self.fail("listen", "\"\(text)\" is not HOST:PORT (e.g. 127.0.0.1:8787 or [::1]:8787)")
            }
        }
        if let value = root["routes"] {
            config.routes = self.readRoutes(value)
        } else {
            self.fail(
                "routes",
                "missing: at least one route is required, e.g. {\"prefix\": \"/\", \"upstream\": \"https://sandbox.procore.com\"}"
            )
        }
        if let value = root["cors"] {
            config.cors = self.readCORS(value)
        }
        if let value = root["faults"] {
            config.faults = self.readFaultSettings(value)
        }
        if let value = root["tls"] {
            config.tls = self.readTLS(value)
        }
        if let value = root["log"], let object = self.object(value, at: "log", known: ["format"]),
            let value = object["format"], let text = self.string(value, at: "log.format")
        {
            if let format = ProxyConfig.LogFormat(rawValue: text) {
                config.log.format = format
            } else {
                self.fail("log.format", "\"\(text)\" is neither \"text\" nor \"json\"")
            }
        }
        if let value = root["allowedHosts"], let hosts = self.strings(value, at: "allowedHosts") {
            if hosts.isEmpty {
                self.fail(
                    "allowedHosts",
                    "empty: list at least one host name, or leave the key out for the default (the listen host, localhost, 127.0.0.1, [::1])"
                )
            }
            config.allowedHosts = hosts.compactMap { path, host in
                let normalized = Origin.normalizedHost(Substring(host))
                if normalized == nil { self.fail(path, "\"\(host)\" is not a host name (no scheme, no port)") }
                return normalized
            }
        }
        if let value = root["limits"] {
            config.limits = self.readLimits(value)
        }
        if let value = root["trustedProxies"] {
            config.trustedProxies = self.readTrustedProxies(value)
        }
        if let value = root["forwardedHeaders"], let mode = self.readForwardedHeaders(value) {
            config.forwardedHeaders = mode
        }
        if let value = root["timeouts"],
            let object = self.object(
                value,
                at: "timeouts",
                known: ["connect", "total", "idle", "clientHeader", "drain", "lameDuck"]
            )
        {
            if let idle = object["idle"], let seconds = self.number(idle, at: "timeouts.idle", range: 0...86400) {
                config.timeouts.idle = seconds > 0 ? .seconds(seconds) : nil
            }
            if let header = object["clientHeader"],
                let seconds = self.number(header, at: "timeouts.clientHeader", range: 0.001...3600)
            {
                config.timeouts.clientHeader = .seconds(seconds)
            }
            if let connect = object["connect"],
                let seconds = self.number(connect, at: "timeouts.connect", range: 0.001...3600)
            {
                config.timeouts.connect = .seconds(seconds)
            }
            if let total = object["total"], let seconds = self.number(total, at: "timeouts.total", range: 0...86400) {
                config.timeouts.total = seconds > 0 ? .seconds(seconds) : nil
            }
            if let drain = object["drain"], let seconds = self.number(drain, at: "timeouts.drain", range: 0...3600) {
                config.timeouts.drain = .seconds(seconds)
            }
            if let lameDuck = object["lameDuck"],
                let seconds = self.number(lameDuck, at: "timeouts.lameDuck", range: 0...300)
            {
                config.timeouts.lameDuck = .seconds(seconds)
            }
        }
        if let value = root["admin"] {
            config.admin = self.readAdmin(value)
            if let admin = config.admin, admin.listen.port != 0, admin.listen == config.listen {
                self.fail(
                    "admin.listen",
                    "\(admin.listen) is the proxy's own listen address; give the admin listener its own port"
                )
            }
        }
        return config
    }

    private mutating func readAdmin(_ value: JSONValue) -> ProxyConfig.Admin? {
        guard let object = self.object(value, at: "admin", known: ["listen"]) else { return nil }
        guard let listen = object["listen"] else {
            self.fail("admin.listen", "missing: e.g. \"127.0.0.1:9787\"")
            return nil
        }
        guard let text = self.string(listen, at: "admin.listen") else { return nil }
        guard let address = ListenAddress(text) else {
            self.fail("admin.listen", "\"\(text)\" is not HOST:PORT (e.g. 127.0.0.1:9787 or [::1]:9787)")
            return nil
        }
        return ProxyConfig.Admin(listen: address)
    }

    private mutating func readRoutes(_ value: JSONValue) -> [ProxyConfig.Route] {
        guard case .array(let items) = value else {
            self.fail("routes", "expected an array of routes, found \(value.typeName)")
            return []
        }
        if items.isEmpty { self.fail("routes", "at least one route is required") }
        var seen: Set<String> = []
        var routes: [ProxyConfig.Route] = []
        for (index, item) in items.enumerated() {
            let path = "routes[\(index)]"
            let known = [
                "prefix", "upstream", "stripPrefix", "forwardCookies", "http2", "caFile", "faults", "upstreamBudget",
                "proxy",
            ]
            guard let object = self.object(item, at: path, known: known) else { continue }
            var prefix: String?
            var upstream: UpstreamURL?
            if let value = object["prefix"], let text = self.string(value, at: "\(path).prefix") {
                if !text.hasPrefix("/") {
                    self.fail("\(path).prefix", "\"\(text)\" must start with \"/\"")
                } else if !seen.insert(text).inserted {
                    self.fail("\(path).prefix", "\"\(text)\" is already used by an earlier route")
                } else {
                    prefix = text
                }
            } else if object["prefix"] == nil {
                self.fail("\(path).prefix", "missing")
            }
            if let value = object["upstream"], let text = self.string(value, at: "\(path).upstream") {
                upstream = UpstreamURL(text)
                if upstream == nil {
                    self.fail(
                        "\(path).upstream",
                        "\"\(text)\" is not an http(s) URL without query, fragment or user info"
                    )
                }
            } else if object["upstream"] == nil {
                self.fail("\(path).upstream", "missing")
            }
            let strip = object["stripPrefix"].flatMap { self.bool($0, at: "\(path).stripPrefix") } ?? false
            let cookies = object["forwardCookies"].flatMap { self.bool($0, at: "\(path).forwardCookies") } ?? false
            let http2 = object["http2"].flatMap { self.bool($0, at: "\(path).http2") } ?? false
            if http2, let upstream, upstream.scheme != "https" {
                // libcurl 7.88 fails multiplexed h2c (prior knowledge) streams with "Error in the HTTP2 framing
                // layer"; over TLS it multiplexes correctly.
                self.fail("\(path).http2", "HTTP/2 needs an https upstream (cleartext h2c is not supported)")
            }
            let caFile = object["caFile"].flatMap { self.string($0, at: "\(path).caFile") }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                self.fail("\(path).caFile", "\"\(caFile)\" is not a readable file")
            }
            if caFile != nil, let upstream, upstream.scheme != "https" {
                self.fail("\(path).caFile", "only an https upstream uses a CA file")
            }
            let faults = object["faults"].map { self.readFaultRules($0, at: "\(path).faults") } ?? []
            let budget = object["upstreamBudget"].flatMap { self.readUpstreamBudget($0, at: "\(path).upstreamBudget") }
            let proxy = object["proxy"].flatMap { self.readOutboundProxy($0, at: "\(path).proxy") }
            if let prefix, let upstream {
                routes.append(
                    .init(
                        prefix: prefix,
                        upstream: upstream,
                        stripPrefix: strip,
                        forwardCookies: cookies,
                        http2: http2,
                        caFile: caFile,
                        faults: faults,
                        upstreamBudget: budget,
                        proxy: proxy
                    )
                )
            }
        }
        return routes
    }

    private mutating func readCORS(_ value: JSONValue) -> ProxyConfig.CORS {
        var cors = ProxyConfig.CORS()
        let known = [
            "allowedOrigins", "allowedMethods", "allowedHeaders", "exposedHeaders", "allowCredentials", "maxAge",
            "allowPrivateNetwork", "disallowedOrigin", "mode",
        ]
        guard let object = self.object(value, at: "cors", known: known) else { return cors }
        var anyPath: String?
        if let value = object["allowedOrigins"], let items = self.strings(value, at: "cors.allowedOrigins") {
            cors.allowedOrigins = items.compactMap { path, text in
                switch OriginPattern.parse(text) {
                case .success(let pattern):
                    if pattern.isAny { anyPath = path }
                    return pattern
                case .failure(let error):
                    self.fail(path, error.description)
                    return nil
                }
            }
        }
        if let value = object["allowedMethods"], let items = self.strings(value, at: "cors.allowedMethods") {
            cors.allowedMethods = items.compactMap { path, method in
                guard HTTPToken.isToken(method) else {
                    self.fail(path, "\"\(method)\" is not an HTTP method")
                    return nil
                }
                return method
            }
        }
        for (key, keyPath) in [
            ("allowedHeaders", \ProxyConfig.CORS.allowedHeaders), ("exposedHeaders", \.exposedHeaders),
        ] {
            guard let value = object[key], let items = self.strings(value, at: "cors.\(key)") else { continue }
            cors[keyPath: keyPath] = items.compactMap { path, name in
                guard HTTPToken.isToken(name) else {
                    self.fail(path, "\"\(name)\" is not a header name")
                    return nil
                }
                return name
            }
        }
        if let value = object["allowCredentials"], let flag = self.bool(value, at: "cors.allowCredentials") {
            cors.allowCredentials = flag
        }
        if let value = object["maxAge"], let seconds = self.number(value, at: "cors.maxAge", range: 0...86400) {
            if seconds != seconds.rounded() {
                self.fail("cors.maxAge", "expected whole seconds, found \(seconds)")
            }
            cors.maxAge = Int(seconds)
        }
        if let value = object["allowPrivateNetwork"], let flag = self.bool(value, at: "cors.allowPrivateNetwork") {
            cors.allowPrivateNetwork = flag
        }
        if let value = object["disallowedOrigin"], let text = self.string(value, at: "cors.disallowedOrigin") {
            if let mode = ProxyConfig.DisallowedOrigin(rawValue: text) {
                cors.disallowedOrigin = mode
            } else {
                self.fail("cors.disallowedOrigin", "\"\(text)\" is neither \"reject\" nor \"omit-headers\"")
            }
        }
        if let value = object["mode"], let text = self.string(value, at: "cors.mode") {
            if let mode = ProxyConfig.CORSMode(rawValue: text) {
                cors.mode = mode
            } else {
                self.fail("cors.mode", "\"\(text)\" is neither \"enforce\" nor \"report-only\"")
            }
        }
        if cors.allowCredentials, let anyPath {
            self.fail(
                anyPath,
                "\"*\" cannot be used with allowCredentials: true (browsers reject a wildcard origin with credentials); list the origins"
            )
        }
        return cors
    }
}

/// RFC 9110 §5.6.2 tokens: header names and methods.
enum HTTPToken {
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    return true
                default:
                    return "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }
}

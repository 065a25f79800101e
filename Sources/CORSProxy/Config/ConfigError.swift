/// One problem in a config file, located by its key path (`cors.allowedOrigins[2]`).
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var message: String

    public var description: String {
        self.path.isEmpty ? self.message : "\(self.path): \(self.message)"
    }
}

extension ConfigIssue {
    /// The line `validate` and `serve` print for a warning: `proxy.json: warning: cors.maxAge: …`.
    public func warningLine(file: String) -> String {
        "\(file): warning: \(self)"
    }
}

/// A config file that cannot be used: every problem found, one per line, each prefixed by the file name
/// (`proxy.json: cors.allowedOrigins[2]: "htp://x" is not an origin`).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var issues: [ConfigIssue]

    public var description: String {
        self.issues.map { "\(self.file): \($0)" }.joined(separator: "\n")
    }
}

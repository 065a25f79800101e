internal import NIOCore

/// `POST /reload`'s JSON body: `{"outcome": "applied|unchanged|refused", "version", "changes", "problems",
/// "warnings"}`.
enum ReloadView {
    private struct Body: Encodable {
        var outcome: String
        var version: Int
        var changes: [String]
        var problems: [String]
        var warnings: [String]
    }

    static func json(_ result: ConfigReloader.Result) -> ByteBuffer {
        JSONBody.encode(
            Body(
                outcome: result.outcome.rawValue,
                version: result.version,
                changes: result.changes,
                problems: result.problems,
                warnings: result.warnings
            )
        )
    }
}

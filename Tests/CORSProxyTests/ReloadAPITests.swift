import CORSProxy
import Foundation
import Testing

/// ``ConfigReloader/reload(trigger:)``, the API `POST /reload` calls, on the real server in this process.
@Suite("Reload: the reload() API")
struct ReloadAPITests {
    static let x = "http://x.test"
    static let y = "http://y.test"

    /// Ten invalid files, each with the key paths its problems must name (every one of them).
    static let invalid: [(name: String, json: @Sendable (String) -> String, problems: [String])] = [
        ("syntax error", { _ in #"{"routes": [{"prefix": "/""# }, ["not valid JSON"]),
        (
            "unknown key",
            { reloadConfig(upstream: $0, origins: [x], extra: #""cros": {}"#) },
            ["cros: unknown key"]
        ),
        ("bad origin pattern", { reloadConfig(upstream: $0, origins: ["htp://x.test"]) }, ["cors.allowedOrigins[0]: "]),
        ("bad upstream URL", { _ in reloadConfig(upstream: "ftp://u.test", origins: [x]) }, ["routes[0].upstream: "]),
        (
            "bad fault rule",
            { upstream in
                """
                {"routes": [{"prefix": "/", "upstream": "\(upstream)", "faults": [{"fault": "no-such-fault"}]}],
                 "cors": {"allowedOrigins": ["\(x)"]}}
                """
            },
            ["routes[0].faults[0].fault: "]
        ),
        ("empty routes", { _ in #"{"routes": [], "cors": {"allowedOrigins": ["http://x.test"]}}"# }, ["routes: "]),
        (
            "wildcard with credentials",
            { upstream in
                #"{"routes": [{"prefix": "/", "upstream": "\#(upstream)"}], "cors": {"allowedOrigins": ["*"], "allowCredentials": true}}"#
            },
            ["cors.allowedOrigins[0]: "]
        ),
        (
            "timeout out of range, and a maxAge that is no number",
            { upstream in
                #"{"routes": [{"prefix": "/", "upstream": "\#(upstream)"}], "timeouts": {"idle": -1}, "cors": {"maxAge": "10"}}"#
            },
            ["cors.maxAge: ", "timeouts.idle: "]
        ),
        (
            "duplicate route prefix",
            { upstream in
                #"{"routes": [{"prefix": "/", "upstream": "\#(upstream)"}, {"prefix": "/", "upstream": "\#(upstream)"}]}"#
            },
            ["routes[1].prefix: "]
        ),
        (
            "tls files that do not exist",
            {
                reloadConfig(
                    upstream: $0,
                    origins: [x],
                    extra: #""tls": {"certificate": "no.crt", "privateKey": "no.key"}"#
                )
            },
            ["tls.certificate: ", "tls.privateKey: "]
        ),
    ]

    @Test(
        "ten invalid files: each refused, every problem logged with its key path and returned, the old config serving"
    )
    func invalidFilesAreRefused() async throws {
        try await withUpstream { upstream in
            try await withReloadableProxy(reloadConfig(upstream: upstream.url, origins: [Self.x])) { proxy in
                for (index, invalid) in Self.invalid.enumerated() {
                    try proxy.write(invalid.json(upstream.url))
                    // The server's own lines, in order (logLines puts the access log after them).
                    let before = proxy.running.logs.entries.count
                    let result = await proxy.reloader.reload()
                    #expect(result.outcome == .refused, "\(invalid.name)")
                    #expect(result.version == 1)
                    #expect(result.problems.count == invalid.problems.count, "\(invalid.name): \(result.problems)")
                    let lines = proxy.running.logLines.prefix(proxy.running.logs.entries.count).dropFirst(before).filter
                    {
                        $0.contains("config reload refused; the old config keeps serving")
                    }
                    #expect(lines.count == result.problems.count, "\(invalid.name): one line per problem")
                    for (problem, expected) in zip(result.problems, invalid.problems) {
                        #expect(problem.hasPrefix(expected), "\(invalid.name): \(problem)")
                        #expect(lines.contains { $0.contains("config.problem=\(problem)") }, "\(invalid.name)")
                    }
                    #expect(proxy.reloader.status.failed == index + 1)
                    // The old config still serves: x allowed, y refused.
                    let allowed = try await http(proxy.running.url + "/echo", headers: ["Origin: \(Self.x)"])
                    #expect(allowed.status == 200, "\(invalid.name)")
                    #expect(allowed.header("Access-Control-Allow-Origin") == Self.x)
                    let refused = try await http(proxy.running.url + "/echo", headers: ["Origin: \(Self.y)"])
                    #expect(refused.status == 403, "\(invalid.name)")
                }
                #expect(proxy.server.configVersion == 1)
                #expect(proxy.reloader.status.succeeded == 0)
            }
        }
    }

    @Test("a valid file: applied as version 2 with its changes listed; the same file again is no change")
    func validFileIsApplied() async throws {
        try await withUpstream { upstream in
            try await withReloadableProxy(reloadConfig(upstream: upstream.url, origins: [Self.x])) { proxy in
                let unchanged = await proxy.reloader.reload()
                // The file says 127.0.0.1:8787 and --listen says 127.0.0.1:0: the override is no change.
                #expect(unchanged.outcome == .unchanged)
                #expect(unchanged.changes.isEmpty)
                _ = try await proxy.running.logLine(containing: "config reloaded: no change")

                try proxy.write(reloadConfig(upstream: upstream.url, origins: [Self.x, Self.y]))
                let applied = await proxy.reloader.reload()
                #expect(applied.outcome == .applied)
                #expect(applied.version == 2)
                #expect(applied.changes == ["cors.allowedOrigins: added \"\(Self.y)\""])
                #expect(applied.problems.isEmpty)
                #expect(proxy.server.configVersion == 2)
                let status = proxy.reloader.status
                #expect(status.version == 2)
                #expect(status.succeeded == 2)
                #expect(status.failed == 0)
                #expect(status.lastSuccess != nil)
                let now = try await http(proxy.running.url + "/echo", headers: ["Origin: \(Self.y)"])
                #expect(now.status == 200)
                #expect(now.header("Access-Control-Allow-Origin") == Self.y)
            }
        }
    }

    @Test("overlapping reload() calls never run at once and coalesce: each caller gets a result read after its call")
    func overlappingCallsCoalesce() async throws {
        try await withUpstream { upstream in
            try await withReloadableProxy(reloadConfig(upstream: upstream.url, origins: [Self.x])) { proxy in
                try proxy.write(reloadConfig(upstream: upstream.url, origins: [Self.x, Self.y]))
                let results = await withTaskGroup(of: ConfigReloader.Result.self) { group in
                    for _ in 0..<50 { group.addTask { await proxy.reloader.reload() } }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(results.count == 50)
                // One reload applied the change; every other saw version 2 and no change. Were two to run at once,
                // both would compare against version 1 and apply it twice.
                #expect(results.filter { $0.outcome == .applied }.count == 1)
                #expect(results.allSatisfy { $0.version == 2 })
                #expect(proxy.server.configVersion == 2)
            }
        }
    }
}

import Foundation
import Testing

/// Hot reload through `corsproxy serve` as a process: the file watcher (in place, by rename, by a ConfigMap's
/// `..data` swap), SIGHUP and the change log. (A download across a reload is in ``ReloadUnderLoadTests``.)
@Suite("Reload: triggers, log and in-flight requests")
struct ReloadTriggerTests {
    static let x = "http://x.test"
    static let y = "http://y.test"

    /// Polls with requests from `origin` until one gets `status`; returns how long that took.
    static func waitForStatus(
        _ status: Int,
        from origin: String,
        at url: String,
        within timeout: Duration = .seconds(3)
    ) async throws -> Duration {
        let start = ContinuousClock.now
        while true {
            let result = try await http(url + "/echo", headers: ["Origin: \(origin)"])
            if result.status == status { return ContinuousClock.now - start }
            guard ContinuousClock.now - start < timeout else {
                throw TestFailure("still \(result.status), not \(status), after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until `proxy` has logged its `count`th applied reload; returns how long that took. The log, not a
    /// request loop, times the watcher: a curl process every 20 ms measures process start-up under load.
    static func waitForReload(
        _ count: Int,
        of proxy: ProxyProcess,
        within timeout: Duration = .seconds(3)
    ) async throws -> Duration {
        let start = ContinuousClock.now
        try await proxy.waitForStderr("config.changes=", count: count, timeout: timeout)
        return ContinuousClock.now - start
    }

    /// Writes `text` into `path` in place: truncated and rewritten, the same inode.
    static func writeInPlace(_ text: String, to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// Writes `text` to a new file next to `path` and renames it over `path`, as editors and `mv` do.
    static func writeByRename(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(UUID().uuidString)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        #expect(rename(temporary, path) == 0)
    }

    @Test(
        "a change of the file is in force within 1 s, no signal: ..data swap, in place through the link, rename, in place"
    )
    func fileChangesApply() async throws {
        try await withUpstream { upstream in
            let a = reloadConfig(upstream: upstream.url, origins: [Self.x])
            let b = reloadConfig(upstream: upstream.url, origins: [Self.x, Self.y])
            // A ConfigMap volume: proxy.json → ..data/proxy.json, ..data → ..2026_12_01_1, as the kubelet lays it out.
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let manager = FileManager.default
            try manager.createDirectory(atPath: directory + "/..2026_12_01_1", withIntermediateDirectories: false)
            try Data(a.utf8).write(to: URL(fileURLWithPath: directory + "/..2026_12_01_1/proxy.json"))
            try manager.createSymbolicLink(atPath: directory + "/..data", withDestinationPath: "..2026_12_01_1")
            try manager.createSymbolicLink(atPath: directory + "/proxy.json", withDestinationPath: "..data/proxy.json")
            let path = directory + "/proxy.json"
            try await withProxyProcess(configPath: path) { proxy in
                let refused = try await http(proxy.url + "/echo", headers: ["Origin: \(Self.y)"])
                #expect(refused.status == 403)

                // The kubelet's atomic update: a new timestamped directory, a ..data_tmp link to it renamed over
                // ..data, the old directory removed.
                try manager.createDirectory(atPath: directory + "/..2026_12_01_2", withIntermediateDirectories: false)
                try Data(b.utf8).write(to: URL(fileURLWithPath: directory + "/..2026_12_01_2/proxy.json"))
                try manager.createSymbolicLink(atPath: directory + "/..data_tmp", withDestinationPath: "..2026_12_01_2")
                #expect(rename(directory + "/..data_tmp", directory + "/..data") == 0)
                try manager.removeItem(atPath: directory + "/..2026_12_01_1")
                let swap = try await Self.waitForReload(1, of: proxy)
                _ = try await Self.waitForStatus(200, from: Self.y, at: proxy.url, within: .zero)

                try Self.writeInPlace(a, to: path)
                let throughLink = try await Self.waitForReload(2, of: proxy)
                _ = try await Self.waitForStatus(403, from: Self.y, at: proxy.url, within: .zero)

                try Self.writeByRename(b, to: path)
                let renamed = try await Self.waitForReload(3, of: proxy)
                _ = try await Self.waitForStatus(200, from: Self.y, at: proxy.url, within: .zero)

                try Self.writeInPlace(a, to: path)
                let inPlace = try await Self.waitForReload(4, of: proxy)
                _ = try await Self.waitForStatus(403, from: Self.y, at: proxy.url, within: .zero)

                print(
                    "reload latency: ..data swap \(swap), in place through the link \(throughLink), rename \(renamed), in place \(inPlace)"
                )
                for latency in [swap, throughLink, renamed, inPlace] { #expect(latency < .seconds(1)) }
                let reloaded = try await proxy.waitForStderr("config reloaded", count: 4)
                #expect(reloaded.allSatisfy { $0.contains("config.trigger=file") })
                #expect(reloaded.last?.contains("config.version=5") == true)
            }
        }
    }

    @Test("a half-written file is refused once, not once per event, then applied when the write completes")
    func halfWrittenFile() async throws {
        try await withUpstream { upstream in
            let b = reloadConfig(upstream: upstream.url, origins: [Self.x, Self.y])
            let half = String(b.prefix(b.count / 2))
            try await withProxyProcess(configJSON: reloadConfig(upstream: upstream.url, origins: [Self.x])) { proxy in
                try Self.writeInPlace(half, to: proxy.configPath)
                try await proxy.waitForStderr("config reload refused")
                // The same half again, and a touch: events, but content already tried.
                try Self.writeInPlace(half, to: proxy.configPath)
                try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: proxy.configPath)
                try await Task.sleep(for: .milliseconds(400))
                #expect(proxy.stderrLines(containing: "config reload refused").count == 1)
                let refused = try await http(proxy.url + "/echo", headers: ["Origin: \(Self.y)"])
                #expect(refused.status == 403, "the old config serves")

                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: proxy.configPath))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(b.dropFirst(half.count).utf8))
                try handle.close()
                _ = try await Self.waitForStatus(200, from: Self.y, at: proxy.url, within: .seconds(1))
                #expect(proxy.stderrLines(containing: "config reload refused").count == 1)
            }
        }
    }

    @Test("the log: no change under a --listen override; origins, routes and keys changed; listen needs a restart")
    func changeLog() async throws {
        try await withUpstream { upstream in
            let a = reloadConfig(upstream: upstream.url, origins: [Self.x])
            try await withProxyProcess(configJSON: a) { proxy in
                // The file's listen is 127.0.0.1:8787, --listen 127.0.0.1:0: that is no change.
                kill(proxy.pid, SIGHUP)
                let unchanged = try await proxy.waitForStderr("config reloaded: no change")
                #expect(unchanged[0].contains("config.trigger=SIGHUP"))
                #expect(unchanged[0].contains("config.version=1"))

                let c = """
                    {"listen": "127.0.0.1:9999",
                     "routes": [{"prefix": "/", "upstream": "\(upstream.url)"},
                                {"prefix": "/api", "upstream": "\(upstream.url)/v2"}],
                     "cors": {"allowedOrigins": ["\(Self.y)"], "maxAge": 60}}
                    """
                try Self.writeByRename(c, to: proxy.configPath)
                try await proxy.waitForStderr("config.changes=", timeout: .seconds(3))
                let expected = [
                    "config.change=cors.allowedOrigins: added \"\(Self.y)\"",
                    "config.change=cors.allowedOrigins: removed \"\(Self.x)\"",
                    "config.change=routes: added /api → \(upstream.url)/v2",
                    "config.change=cors.maxAge: 600 → 60",
                ]
                let changed = proxy.stderrLines(containing: "config changed")
                #expect(changed.count == expected.count, "\(changed)")
                for text in expected {
                    #expect(changed.contains { $0.contains(text) && $0.contains("config.version=2") }, "\(text)")
                }
                let restart = try await proxy.waitForStderr("config change needs a restart; not applied")
                #expect(
                    restart[0].contains(
                        "listen: 127.0.0.1:8787 → 127.0.0.1:9999 in the file; serve --listen 127.0.0.1:0 is in force (needs a restart; not applied)"
                    )
                )
                let summary = try await proxy.waitForStderr("config reloaded")
                #expect(summary.contains { $0.contains("config.changes=4") } == true)
                // Applied: y now, on the same port.
                let now = try await http(proxy.url + "/echo", headers: ["Origin: \(Self.y)"])
                #expect(now.status == 200)
                print(changed.joined(separator: "\n"))
                print(restart.joined(separator: "\n"))
            }
        }
    }
}

import Foundation
import Testing

/// The heavy reload tests, run in a pass of their own (``seconds``): one reload a second under wrk's load,
/// alternating two configs (nothing fails, every response is one version's), and a 1 GiB download across a
/// reload. Beside the other suites, their load on two cores pushed timing bounds elsewhere (slow-loris, TLS
/// rotation) past their limits.
@Suite("Reload: under load, run alone", .serialized)
struct ReloadUnderLoadTests {
    static let x = "http://x.test"
    static let y = "http://y.test"
    /// Seconds of each wrk run, `CORSPROXY_RELOAD_LOAD_SECONDS` (`make swift-test` sets 20; the issue's figure is
    /// 60). Unset, the test is skipped: two cores saturated for a minute slow the suites running beside it past
    /// their timing bounds (the slow-loris test's among them), so `make swift-test` runs it in a pass of its own.
    static let seconds = Int(ProcessInfo.processInfo.environment["CORSPROXY_RELOAD_LOAD_SECONDS"] ?? "")

    /// wrk's figures from `bench/wrk/reload.lua`'s `RELOAD` line.
    struct Figures: CustomStringConvertible {
        var values: [String: String]

        init(_ output: String) throws {
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("RELOAD ") }) else {
                throw TestFailure("no RELOAD line in wrk's output:\n\(output)")
            }
            var values: [String: String] = [:]
            for field in line.split(separator: " ").dropFirst() {
                let parts = field.split(separator: "=", maxSplits: 1)
                values[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            self.values = values
        }

        subscript(_ key: String) -> Int { Int(self.values[key] ?? "") ?? -1 }
        var socketErrors: Int { self["connect"] + self["read"] + self["write"] + self["timeout"] }

        var description: String {
            "\(self["requests"]) requests (A \(self["a"]), B \(self["b"]), other \(self["other"])), "
                + "\(self.socketErrors) socket errors, p50 \(Double(self["p50_us"]) / 1000) ms, "
                + "p99 \(Double(self["p99_us"]) / 1000) ms"
        }
    }

    /// Runs wrk with 64 connections for ``seconds`` and returns its figures.
    static func wrk(_ url: String, seconds: Int) async throws -> Figures {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/wrk/reload.lua").path
        let process = try ChildProcess(
            "/usr/bin/wrk",
            ["-t", "2", "-c", "64", "-d", "\(seconds)s", "--latency", "-s", script, url],
            standardOutput: .pipe
        )
        let output = process.standardOutput!
        let data = try await offCooperativePool { output.readDataToEndOfFile() }
        _ = await process.waitForExit()
        return try Figures(String(decoding: data, as: UTF8.self))
    }

    @Test(
        "64 connections, one reload a second between two allowlists: no failed or reset request, each response one version's",
        .enabled(if: Self.seconds != nil, "CORSPROXY_RELOAD_LOAD_SECONDS is set by make swift-test"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk"), "wrk is installed by make test")
    )
    func reloadsUnderLoad() async throws {
        let seconds = try #require(Self.seconds)
        try await withUpstream { upstream in
            let a = reloadConfig(upstream: upstream.url, origins: [Self.x])
            let b = reloadConfig(upstream: upstream.url, origins: [Self.x, Self.y])
            try await withProxyProcess(configJSON: b) { proxy in
                let url = proxy.url + "/status/200"
                let baseline = try await Self.wrk(url, seconds: seconds)
                print("reload under load: baseline, \(seconds) s without reloads: \(baseline)")
                #expect(baseline["other"] == 0 && baseline["a"] == 0 && baseline.socketErrors == 0)

                let load = Task { try await Self.wrk(url, seconds: seconds) }
                // Every second the other config: by rename (the watcher), or in place and SIGHUP (which
                // coalesces with the watcher's reload of the same change).
                var reloads = 0
                let end = ContinuousClock.now + .seconds(seconds - 1)
                while ContinuousClock.now < end {
                    try await Task.sleep(for: .seconds(1))
                    let next = reloads % 2 == 0 ? a : b
                    if reloads % 4 < 2 {
                        try ReloadTriggerTests.writeByRename(next, to: proxy.configPath)
                    } else {
                        try ReloadTriggerTests.writeInPlace(next, to: proxy.configPath)
                        kill(proxy.pid, SIGHUP)
                    }
                    reloads += 1
                }
                let figures = try await load.value
                print("reload under load: \(seconds) s with \(reloads) reloads: \(figures)")
                if figures["other"] != 0 { print("first other response: \(figures.values["other_example"] ?? "")") }
                #expect(figures.socketErrors == 0, "no failed or reset request")
                #expect(figures["other"] == 0, "every response is version A's or version B's")
                #expect(figures["a"] + figures["b"] == figures["requests"])
                #expect(figures["a"] > 1000 && figures["b"] > 1000, "both versions served many requests")
                let applied = proxy.stderrLines(containing: "config.changes=1")
                #expect(applied.count == reloads, "each rewrite applied once")
                #expect(proxy.stderrLines(containing: "config reload refused").isEmpty)
            }
        }
    }

    @Test(
        "a 1 GiB download started before a reload finishes intact while the reload applies to new requests",
        .enabled(if: Self.seconds != nil, "CORSPROXY_RELOAD_LOAD_SECONDS is set by make swift-test")
    )
    func downloadOutlivesReload() async throws {
        let size = 1 << 30
        try await withUpstream { upstream in
            try await withProxyProcess(
                configJSON: reloadConfig(upstream: upstream.url, origins: [ReloadTriggerTests.x])
            ) { proxy in
                let directory = try temporaryDirectory()
                defer { try? FileManager.default.removeItem(atPath: directory) }
                // The expected digest from python3 and sha256sum: TestUpstream.patternSHA256 takes seconds of CPU
                // in a debug build, enough to push other suites' timing past their bounds.
                try Data(TestUpstream.table).write(to: URL(fileURLWithPath: directory + "/table"))
                let generator = [
                    "import sys", "table = open(sys.argv[1], 'rb').read()", "left = int(sys.argv[2])",
                    "while left > 0:", "    chunk = table[:left]", "    sys.stdout.buffer.write(chunk)",
                    "    left -= len(chunk)",
                ].joined(separator: "\n")
                try Data(generator.utf8).write(to: URL(fileURLWithPath: directory + "/pattern.py"))
                let expected = Task {
                    try await run(
                        "/bin/sh",
                        [
                            "-c",
                            "python3 \(directory)/pattern.py \(directory)/table \(size) | sha256sum > \(directory)/expected",
                        ]
                    )
                }
                // curl at 256 MiB/s (about 4 s), the body hashed by sha256sum as it streams: nothing on disk.
                let script = """
                    curl -sS --limit-rate 256M -D \(directory)/headers -H 'Origin: \(ReloadTriggerTests.x)' \
                    -w '%{stderr}%{size_download}' '\(proxy.url)/bytes/\(size)' 2>\(directory)/size \
                    | sha256sum > \(directory)/sum
                    """
                let download = Task { try await run("/bin/sh", ["-c", script]) }
                try await upstream.waitFor("64 MiB streamed", timeout: .seconds(20)) { $0.bytesStreamed > 64 << 20 }
                // Version 2 drops x: the download from x started under version 1.
                try ReloadTriggerTests.writeByRename(
                    reloadConfig(upstream: upstream.url, origins: [ReloadTriggerTests.y]),
                    to: proxy.configPath
                )
                try await proxy.waitForStderr("config.changes=", timeout: .seconds(3))
                let streamedAtReload = upstream.bytesStreamed
                let refused = try await http(proxy.url + "/echo", headers: ["Origin: \(ReloadTriggerTests.x)"])
                #expect(refused.status == 403, "a new request from x is served by version 2")

                #expect(try await download.value == 0)
                #expect(streamedAtReload < size / 2, "the reload landed in the middle of the download")
                let received = try String(contentsOfFile: directory + "/size", encoding: .utf8)
                #expect(Int(received) == size)
                let sum = try String(contentsOfFile: directory + "/sum", encoding: .utf8)
                #expect(try await expected.value == 0)
                let digest = try String(contentsOfFile: directory + "/expected", encoding: .utf8)
                #expect(digest.count >= 64 && sum.prefix(64) == digest.prefix(64))
                let headers = try String(contentsOfFile: directory + "/headers", encoding: .utf8)
                #expect(headers.hasPrefix("HTTP/1.1 200"))
                #expect(headers.contains("Access-Control-Allow-Origin: \(ReloadTriggerTests.x)"))
            }
        }
    }
}

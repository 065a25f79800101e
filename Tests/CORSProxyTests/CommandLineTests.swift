import Foundation
import Testing

/// `corsproxy` as a user runs it: its own process, its own output, signals.
@Suite("corsproxy command line")
struct CommandLineTests {
    static func config(upstream: String) -> String {
        testConfig(upstream: upstream)
    }

    /// Runs `corsproxy ARGS` to completion, returning exit status, stdout and stderr.
    static func corsproxy(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try ChildProcess(
            try corsproxyExecutable(),
            arguments,
            standardOutput: .pipe,
            standardError: .pipe
        )
        let (out, err) = (process.standardOutput!, process.standardError!)
        let (stdout, stderr) = try await offCooperativePool {
            (out.readDataToEndOfFile(), err.readDataToEndOfFile())
        }
        return (
            await process.waitForExit(), String(decoding: stdout, as: UTF8.self),
            String(decoding: stderr, as: UTF8.self)
        )
    }

    static func writeTemporary(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("corsproxy-\(UUID().uuidString).json")
            .path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("validate: exit 0 on a good config, 1 with one line per problem naming the key path")
    func validate() async throws {
        let good = try Self.writeTemporary(testConfig(upstream: "https://sandbox.procore.com"))
        let ok = try await Self.corsproxy(["validate", "--config", good])
        #expect(ok.status == 0)
        let bad = try Self.writeTemporary(
            #"{"routes": [{"prefix": "/", "upstream": "https://a.example"}], "cors": {"allowedOrigins": ["http://localhost:3000", "https://ok.example", "htp://x"], "maxAge": "10"}}"#
        )
        let result = try await Self.corsproxy(["validate", "--config", bad])
        #expect(result.status == 1)
        #expect(
            result.stderr.split(separator: "\n").map(String.init) == [
                "\(bad): cors.allowedOrigins[2]: \"htp://x\" is not an origin",
                "\(bad): cors.maxAge: expected a number, found a string",
            ]
        )
        let broad = try Self.writeTemporary(
            #"{"routes": [{"prefix": "/", "upstream": "https://a.example"}], "cors": {"allowedOrigins": ["https://*.github.io"], "allowedHeaders": ["Authorization"]}}"#
        )
        let warned = try await Self.corsproxy(["validate", "--config", broad])
        #expect(warned.status == 0, "warnings do not fail validation")
        #expect(
            warned.stderr.hasPrefix(
                "\(broad): warning: cors.allowedOrigins[0]: \"https://*.github.io\" spans the public suffix"
            )
        )
        let missing = try await Self.corsproxy(["validate", "--config", "/nonexistent/proxy.json"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/proxy.json: cannot read the file"))
    }

    @Test("serve refuses a bad config with the same lines, and a bad --listen")
    func serveBadConfig() async throws {
        let bad = try Self.writeTemporary(#"{"routes": []}"#)
        let result = try await Self.corsproxy(["serve", "--config", bad])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("\(bad): routes: at least one route is required"))
        let listen = try await Self.corsproxy(["serve", "--config", bad, "--listen", "nope"])
        #expect(listen.status != 0)
        #expect(listen.stderr.contains("--listen"))
    }

    @Test("serve prints its address when ready, forwards, logs one line per request without the token")
    func serveForwardsAndLogs() async throws {
        try await withUpstream { upstream in
            try await withProxyProcess(
                configJSON: Self.config(upstream: upstream.url),
                arguments: ["--log-format", "json"]
            ) {
                proxy in
                let token = "eyJhbGciOiJFUzUxMiJ9.c2VjcmV0.c2lnbmF0dXJl"
                let result = try await http(
                    proxy.url + "/rest/v1.0/me?access_token=\(token)&page=1",
                    headers: ["Origin: http://localhost:3000", "Authorization: Bearer \(token)"]
                )
                #expect(result.status == 200)
                #expect(try await proxy.stop() == 0)
                let log = proxy.stderr
                #expect(!log.contains(token), "the token must never be logged")
                let requestLines = log.split(separator: "\n").filter { $0.contains(#""target":"#) }
                #expect(requestLines.count == 1)
                #expect(requestLines.first?.contains(#""target":"/rest/v1.0/me?access_token=REDACTED&page=1""#) == true)
                #expect(requestLines.first?.contains(#""rule":"http://localhost:3000""#) == true)
            }
        }
    }

    @Test(
        "--curl-loops N runs N curl threads (default one per event loop, at most that), and every connection forwards"
    )
    func curlLoops() async throws {
        /// The proxy's threads whose kernel name starts with `prefix`.
        func threads(of pid: Int32, prefix: String) throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").filter { task in
                let name = try String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)
                return name.hasPrefix(prefix)
            }.count
        }
        try await withUpstream { upstream in
            for (arguments, expected) in [(["--curl-loops", "1"], 1), ([], nil)] {
                let config = Self.config(upstream: upstream.url)
                try await withProxyProcess(configJSON: config, arguments: arguments) { proxy in
                    let eventLoops = try threads(of: proxy.pid, prefix: "NIO-SGLTN")
                    #expect(eventLoops >= 1)
                    #expect(
                        try threads(of: proxy.pid, prefix: "corsproxy-curl") == expected ?? eventLoops,
                        "\(arguments)"
                    )
                    // New connections go to the event loops in turn, so eight of them reach every curl loop.
                    let results = try await withThrowingTaskGroup(of: Int.self) { group in
                        for index in 0..<8 {
                            group.addTask { try await http(proxy.url + "/echo?n=\(index)").status }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    #expect(results == Array(repeating: 200, count: 8))
                    #expect(try await proxy.stop() == 0)
                }
            }
        }
        for count in ["0", "4096"] {
            let refused = try await Self.corsproxy(["serve", "--curl-loops", count])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--curl-loops: \(count) is not between 1 and"), "\(refused.stderr)")
        }
    }

    @Test("SIGTERM and SIGINT let the request in flight finish, then exit 0", arguments: [SIGTERM, SIGINT])
    func gracefulShutdown(signal: Int32) async throws {
        try await withUpstream { upstream in
            try await withProxyProcess(configJSON: Self.config(upstream: upstream.url)) { proxy in
                async let inFlight = http(proxy.url + "/slow-head?ms=1500")
                try await upstream.waitFor("the request to reach the upstream") { !$0.requests.isEmpty }
                kill(proxy.pid, signal)
                let result = try await inFlight
                #expect(result.status == 200)
                #expect(result.text == "slow")
                #expect(try await proxy.waitForExit(timeout: .seconds(15)) == 0)
                // Once drained the process, and with it the listener, is gone. (Not probed by connecting: in the
                // parallel pass another test's listener may already hold the freed port — one run answered 502.)
                #expect(kill(proxy.pid, 0) == -1 && errno == ESRCH)
            }
        }
    }

    @Test("an idle keep-alive connection does not hold up shutdown: it is closed at once")
    func shutdownClosesIdleConnections() async throws {
        try await withUpstream { upstream in
            try await withProxyProcess(configJSON: Self.config(upstream: upstream.url)) { proxy in
                let client = try RawClient(port: proxy.port)
                defer { client.close() }
                try client.send("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                try await upstream.waitFor("the request to reach the upstream") { !$0.requests.isEmpty }
                try await Task.sleep(for: .milliseconds(200))
                let started = ContinuousClock.now
                kill(proxy.pid, SIGTERM)
                // The drain timeout is 25 s and the idle connection's head timeout 30 s: only closing it exits sooner.
                // (Well under 25 s, not "at once": under a parallel pass on two busy cores a debug build's exit
                // has taken over 5 s.)
                #expect(try await proxy.waitForExit(timeout: .seconds(20)) == 0)
                #expect(ContinuousClock.now - started < .seconds(15))
            }
        }
    }

    @Test(
        "a 256 MiB download and upload pass through with the proxy's resident memory within a few MiB of idle",
        .disabled(
            if: ProcessInfo.processInfo.environment["CORSPROXY_SANITIZER"] != nil,
            "sanitizers multiply memory use"
        )
    )
    func boundedMemory() async throws {
        let size = 256 * 1024 * 1024
        try await withUpstream { upstream in
            try await withProxyProcess(configJSON: Self.config(upstream: upstream.url)) { proxy in
                _ = try await http(proxy.url + "/echo")
                let idle = try proxy.memory().rss
                proxy.resetPeak()
                let download = try await http(proxy.url + "/bytes/\(size)", extra: ["-o", "/dev/null"])
                #expect(download.status == 200)
                let file = try patternFile(count: size)
                defer { try? FileManager.default.removeItem(atPath: file) }
                let upload = try await http(proxy.url + "/upload", method: "PUT", bodyFile: file)
                #expect(try upload.json()["bodyLength"] as? Int == size)
                let peak = try proxy.memory().peak
                #expect(try await proxy.stop() == 0)
                let growthMiB = Double(peak - idle) / 1024
                #expect(growthMiB < 16, "idle \(idle) KiB, peak \(peak) KiB while moving 2 × 256 MiB")
            }
        }
    }
}

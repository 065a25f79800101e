import DemoSPA
import Foundation
import Logging
import ProcoreStandIn
import Testing

/// `corsproxy demo` as a user runs it, on free ports: what it prints, the SPA on its own origin, a request through
/// its proxy with the SPA's origin and a token from the stand-in's authorize redirect, SIGINT.
@Suite("corsproxy demo")
struct DemoCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The SPA's `SPA_CONFIG` overrides the demo put into its `index.html`.
    static func injectedConfig(_ html: String) throws -> [String: String] {
        let pattern = try Regex(#"Object\.assign\(window\.SPA_CONFIG, (\{[^}]*\})\)"#)
        let match = try #require(html.firstMatch(of: pattern), "no SPA_CONFIG override in the page")
        let json = try #require(match.output[1].substring)
        return try JSONDecoder().decode([String: String].self, from: Data(json.replacing(#"<\/"#, with: "</").utf8))
    }

    @Test("prints open: and inspector:, serves the SPA from its origin, proxies to the stand-in with CORS, SIGINT → 0")
    func demo() async throws {
        let demo = try await DemoProcess.start()
        defer { demo.forceStop() }
        #expect(demo.process.isRunning, "exited early; stderr:\n\(demo.stderr)")
        let open = try #require(demo.line("open:"))
        let inspector = try #require(demo.line("inspector:"))
        let openMatch = try #require(open.wholeMatch(of: #/open:      (http://localhost:\d+)/$/#), "\(open)")
        #expect(inspector.wholeMatch(of: #/inspector: http://127\.0\.0\.1:\d+/inspector/#) != nil, "\(inspector)")
        let origin = String(openMatch.output.1)

        // The SPA, from its own origin, pointed at the proxy (another origin).
        let page = try await http(origin + "/")
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        let config = try Self.injectedConfig(page.text)
        let proxy = try #require(config["api"])
        #expect(proxy.hasPrefix("http://127.0.0.1:") && proxy != origin)
        #expect(config["login"] == proxy, "the sign-in goes through the proxy's /oauth/ route")
        let script = try await http(origin + "/app.js")
        #expect(script.status == 200)
        let example = try Data(contentsOf: Self.repository.appendingPathComponent("Examples/implicit-grant-spa/app.js"))
        #expect(script.body == example, "the binary serves the example's app.js as it is in the repository")

        // A token from the stand-in's authorize redirect (through the proxy), then /me with the SPA's Origin.
        var authorize = URLComponents(string: proxy + "/oauth/authorize")!
        authorize.queryItems = [
            URLQueryItem(name: "response_type", value: "token"),
            URLQueryItem(name: "client_id", value: config["client_id"]),
            URLQueryItem(name: "redirect_uri", value: origin + "/"),
            URLQueryItem(name: "state", value: "demo-test"),
        ]
        let redirect = try await http(authorize.url!.absoluteString)
        #expect(redirect.status == 302)
        let location = try #require(redirect.header("Location"))
        #expect(location.hasPrefix(origin + "/#access_token="))
        let token = try #require(ProcoreStandInTests.fragment(location)["access_token"])
        let me = try await http(
            proxy + "/rest/v1.0/me",
            headers: ["Origin: \(origin)", "Authorization: Bearer \(token)", "Accept: application/json"]
        )
        #expect(me.status == 200)
        #expect(me.header("Access-Control-Allow-Origin") == origin)
        #expect(me.header("Access-Control-Allow-Credentials") == "true")
        #expect(me.header("Access-Control-Expose-Headers")?.contains("X-Rate-Limit-Remaining") == true)
        #expect(try me.json()["login"] as? String == "dev@stand-in.example")
        let stranger = try await http(
            proxy + "/rest/v1.0/me",
            headers: ["Origin: http://localhost:1", "Authorization: Bearer \(token)"]
        )
        #expect(stranger.status == 403, "only the SPA's origin is allowed")

        let started = ContinuousClock.now
        demo.process.interrupt()
        #expect(try await demo.waitForExit(timeout: .seconds(5)) == 0, "stderr:\n\(demo.stderr)")
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test("a taken port: exit 1 with one line naming the port and the option that moves it")
    func portTaken() async throws {
        let holder = LocalHTTPServer(host: "127.0.0.1", port: 0, logger: Logger(label: "holder")) { _ in
            .init(status: 204)
        }
        let taken = try await holder.start()
        defer { Task { await holder.shutdown() } }
        let demo = try await DemoProcess.start(arguments: ["--port", "0", "--proxy-port", String(taken)])
        defer { demo.forceStop() }
        #expect(try await demo.waitForExit(timeout: .seconds(10)) == 1)
        try await Task.sleep(for: .milliseconds(100))  // the last of stderr
        #expect(
            demo.stderr.split(separator: "\n").map(String.init) == [
                "corsproxy demo: port \(taken) (the proxy) is already in use: pick another with --proxy-port PORT, or move all five with --port BASE (now 0: free ports)"
            ]
        )
        #expect(!demo.stdout.contains("open:"))
    }

    @Test("--help explains the ports, the two printed lines and the options")
    func help() async throws {
        let result = try await CommandLineTests.corsproxy(["demo", "--help"])
        #expect(result.status == 0)
        for text in [
            "--port <base>", "--spa-port <port>", "--proxy-port <port>", "open:", "inspector:", "8790", "8794",
        ] {
            #expect(result.stdout.contains(text), "\(text)")
        }
    }

    @Test("SPASite: the example's index.html with one script before app.js pointing SPA_CONFIG at the demo")
    func spaSite() throws {
        let site = try SPASite(
            settings: .init(api: "http://127.0.0.1:1", login: "http://127.0.0.1:2</script>", clientID: "c", perPage: 3)
        )
        let page = String(decoding: try #require(site.file(at: "/")).body, as: UTF8.self)
        let example = try String(
            contentsOf: Self.repository.appendingPathComponent("Examples/implicit-grant-spa/index.html"),
            encoding: .utf8
        )
        let override = try #require(page.firstRange(of: "<script>Object.assign(window.SPA_CONFIG"))
        #expect(page.replacing(try Regex(#"<script>Object\.assign[^\n]*\n  "#), with: "") == example)
        #expect(page[override.lowerBound...].contains(#"<script src="app.js""#))
        #expect(!page.contains("2</script>"), "a value cannot end the script")
        #expect(
            try Self.injectedConfig(page)
                == [
                    "api": "http://127.0.0.1:1", "login": "http://127.0.0.1:2</script>", "client_id": "c",
                    "per_page": "3",
                ]
        )
        #expect(site.file(at: "/index.html")?.body == site.file(at: "/")?.body)
        #expect(site.file(at: "/README.md") == nil)
    }
}

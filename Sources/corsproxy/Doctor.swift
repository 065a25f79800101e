import ArgumentParser
import CORSProxy
import CurlBridge
import Glibc
import Logging

/// `corsproxy doctor`: act as a browser against a URL and explain its CORS verdict.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Act as a browser: send the preflight and/or the request, print the CORS verdict and why.",
        discussion: """
            Decides, as a browser would, whether the request needs a preflight; sends it and/or the request to URL \
            (the proxy or any server); and prints the verdict: allowed, or blocked with the rule it broke and the \
            console message Chrome and Firefox would print. Exit status: 0 allowed, 1 blocked, 2 error.

            Example: corsproxy doctor http://127.0.0.1:8787/rest/v1.0/me --origin http://localhost:3000 \
            -H 'Authorization: Bearer x' --credentials
            """
    )

    @Argument(help: "The URL the page fetches.")
    var url: String

    @Option(help: ArgumentHelp("The page's origin, e.g. http://localhost:3000.", valueName: "origin"))
    var origin: String

    @Option(help: ArgumentHelp("The request method.", valueName: "method"))
    var method = "GET"

    @Option(
        name: .customShort("H"),
        help: ArgumentHelp("A request header the script sets (repeatable).", valueName: "Name: value")
    )
    var headers: [String] = []

    @Flag(help: "Fetch with credentials: 'include' (as Procore's JS SDK does).")
    var credentials = false

    func validate() throws {
        guard self.url.lowercased().hasPrefix("http://") || self.url.lowercased().hasPrefix("https://") else {
            throw ValidationError("URL must be an http:// or https:// URL")
        }
        guard Origin(self.origin) != nil else {
            throw ValidationError(
                "--origin: \"\(self.origin)\" is not an origin (scheme://host[:port], nothing after it)"
            )
        }
        for header in self.headers where !header.contains(":") {
            throw ValidationError("-H: \"\(header)\" is not 'Name: value'")
        }
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        try CurlGlobal.initialize()
        let parsed = self.headers.map { line -> (name: String, value: String) in
            let colon = line.firstIndex(of: ":")!
            return (Self.trimmed(line[..<colon]), Self.trimmed(line[line.index(after: colon)...]))
        }
        let model = BrowserModel(
            request: .init(
                url: self.url,
                origin: self.origin,
                method: self.method,
                headers: parsed,
                includesCredentials: self.credentials
            )
        )
        let curl = CurlLoop(logger: Logger(label: "corsproxy-doctor", factory: { _ in SwiftLogNoOpLogHandler() }))
        print("request:   \(model.request.method) \(self.url)")
        print("origin:    \(self.origin), credentials: \(self.credentials ? "include" : "same-origin")")
        let status = try await self.diagnose(model, curl: curl)
        await curl.shutdown()
        throw ExitCode(status)
    }

    /// Runs the exchange; returns the exit status.
    private func diagnose(_ model: BrowserModel, curl: CurlLoop) async throws -> Int32 {
        if model.needsPreflight {
            var why: [String] = []
            if !BrowserModel.safelistedMethods.contains(model.request.method) {
                why.append("method \(model.request.method) is not GET, HEAD or POST")
            }
            if !model.unsafeHeaderNames.isEmpty {
                why.append("headers \(model.unsafeHeaderNames.joined(separator: ", ")) are not CORS-safelisted")
            }
            print("preflight: needed (\(why.joined(separator: "; ")))")
            guard let response = await self.send("OPTIONS", headers: model.preflightHeaders, curl: curl) else {
                return self.networkError(model)
            }
            self.show(response, prefix: "           ")
            let verdict = model.judgePreflight(response)
            if !verdict.isAllowed { return self.blocked(model, verdict, status: response.status) }
            print("           preflight passes")
        } else {
            print("preflight: not needed (a simple request: GET, HEAD or POST with CORS-safelisted headers only)")
        }
        let headers = model.request.headers + [(name: "Origin", value: model.request.origin)]
        guard let response = await self.send(model.request.method, headers: headers, curl: curl) else {
            return self.networkError(model)
        }
        print("request:   sent")
        self.show(response, prefix: "           ")
        let verdict = model.judgeActual(response)
        if !verdict.isAllowed { return self.blocked(model, verdict, status: response.status) }
        let exposed = BrowserModel.list(
            response.headers.filter { $0.name.lowercased() == "access-control-expose-headers" }.map(\.value)
        )
        print("verdict:   ALLOWED: JavaScript can read the response (status \(response.status))")
        if !exposed.isEmpty {
            print("           and, beyond the safelisted response headers, \(exposed.joined(separator: ", "))")
        }
        return 0
    }

    private func send(
        _ method: String,
        headers: [(name: String, value: String)],
        curl: CurlLoop
    ) async -> BrowserModel.Response? {
        let body: TransferRequest.Body = ["POST", "PUT", "PATCH"].contains(method.uppercased()) ? .length(0) : .none
        let request = TransferRequest(
            method: method,
            url: self.url,
            headers: headers,
            body: body,
            connectTimeoutMilliseconds: 10_000,
            totalTimeoutMilliseconds: 30_000
        )
        do {
            let (head, _) = try await curl.fetch(request)
            return BrowserModel.Response(status: head.status, headers: head.headers)
        } catch {
            print("error:     \(error)")
            return nil
        }
    }

    private func show(_ response: BrowserModel.Response, prefix: String) {
        print("\(prefix)← \(response.status)")
        for (name, value) in response.headers
        where name.lowercased().hasPrefix("access-control-") || name.lowercased() == "vary" {
            print("\(prefix)  \(name): \(value)")
        }
    }

    private func blocked(_ model: BrowserModel, _ verdict: BrowserModel.Verdict, status: Int) -> Int32 {
        guard let failure = verdict.failure else { return 0 }
        print(
            "verdict:   BLOCKED at the \(verdict.isPreflight ? "preflight" : "response"): \(model.explanation(failure))"
        )
        print("Chrome:    \(model.chromeMessage(verdict) ?? "")")
        print("Firefox:   \(model.firefoxMessage(verdict, status: status) ?? "")")
        return 1
    }

    private func networkError(_ model: BrowserModel) -> Int32 {
        print("verdict:   ERROR: no response; a browser reports \"TypeError: Failed to fetch\"")
        print(
            "Firefox:   Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at \(self.url). (Reason: CORS request did not succeed). Status code: (null)."
        )
        return 2
    }

    /// The text without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

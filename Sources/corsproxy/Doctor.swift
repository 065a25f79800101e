import ArgumentParser
import CORSProxy
import CurlBridge
import Glibc
import Logging

/// `corsproxy doctor`: act as a browser against a URL and explain its CORS verdict.
///
/// The command does the I/O (the preflight, the request, the health probe that tells corsproxy from another
/// server, name resolution for Local Network Access); ``BrowserModel`` decides; ``DoctorReport`` prints the result
/// as text or as one JSON object.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Act as a browser: send the preflight and/or the request, print the CORS verdict, why, and the fix.",
        discussion: """
            Decides, as a browser would, whether the request needs a preflight; sends it and/or the request to URL \
            (the proxy or any server); and prints the verdict: allowed, or blocked with the rule it broke, the \
            console messages Chrome and Firefox would print, and a fix: the header the server must send and, when \
            URL is served by corsproxy (it answers GET /__corsproxy/healthz), the proxy.json change. When the page \
            is public and URL is a loopback or local address, it also predicts Chrome's Local Network Access \
            prompt (Chrome 142 and later), which comes before any CORS check and which no header can answer.

            Examples:

              A simple GET through the proxy (no preflight):
                corsproxy doctor http://127.0.0.1:8787/rest/v1.0/me \\
                  --origin http://localhost:3000

              A preflighted PUT with headers the script sets:
                corsproxy doctor http://127.0.0.1:8787/rest/v1.0/projects/1 \\
                  --origin http://localhost:3000 --method PUT \\
                  -H 'Content-Type: application/json' -H 'Procore-Company-Id: 42'

              A bearer token with credentials: 'include' (as Procore's JS SDK does):
                corsproxy doctor http://127.0.0.1:8787/rest/v1.0/me \\
                  --origin http://localhost:3000 \\
                  -H 'Authorization: Bearer TOKEN' --credentials

              As one JSON object, for scripts (no Authorization value is printed):
                corsproxy doctor http://127.0.0.1:8787/rest/v1.0/me \\
                  --origin http://localhost:3000 --json | jq -r .fix
                corsproxy doctor http://127.0.0.1:8787/rest/v1.0/me \\
                  --origin http://localhost:3000 --json | python3 -c \\
                  'import json,sys; r=json.load(sys.stdin); print(r["verdict"], r["fix"])'

            Exit status:
              0   allowed: the page's script can read the response, whatever its status
              1   blocked: the browser blocks it at the preflight or at the response
              2   error: no response at all (nothing listening, DNS, TLS, timeout)
              64  the arguments are wrong
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

    @Flag(help: "Print the verdict as one JSON object: verdict, stage, rule, chrome, firefox, fix, the headers.")
    var json = false

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
        var report = DoctorReport(model: model)
        report.localNetworkAccess = self.predictLocalNetworkAccess(model)
        let curl = CurlLoop(logger: Logger(label: "corsproxy-doctor", factory: { _ in SwiftLogNoOpLogHandler() }))
        await self.diagnose(&report, curl: curl)
        await curl.shutdown()
        if self.json {
            print(report.json.rendered())
        } else {
            for line in report.textLines { print(line) }
        }
        throw ExitCode(report.exitStatus)
    }

    /// Runs the exchange as a browser would, recording it in `report`.
    private func diagnose(_ report: inout DoctorReport, curl: CurlLoop) async {
        let model = report.model
        if model.needsPreflight {
            var why: [String] = []
            if !BrowserModel.safelistedMethods.contains(model.request.method) {
                why.append("method \(model.request.method) is not GET, HEAD or POST")
            }
            if !model.unsafeHeaderNames.isEmpty {
                why.append("headers \(model.unsafeHeaderNames.joined(separator: ", ")) are not CORS-safelisted")
            }
            report.preflight = DoctorReport.Exchange(
                method: "OPTIONS",
                headers: model.preflightHeaders,
                reasons: why
            )
            switch await self.send("OPTIONS", headers: model.preflightHeaders, curl: curl) {
            case .failure(let error):
                report.outcome = .error(error, isPreflight: true)
                return
            case .success(let (response, body)):
                report.preflight?.response = response
                let verdict = model.judgePreflight(response)
                report.preflightVerdict = verdict
                if !verdict.isAllowed {
                    return await self.block(&report, verdict, response: response, asCorsproxy: body, curl: curl)
                }
            }
        }
        let headers = model.request.headers + [(name: "Origin", value: model.request.origin)]
        report.actual = DoctorReport.Exchange(method: model.request.method, headers: headers)
        switch await self.send(model.request.method, headers: headers, curl: curl) {
        case .failure(let error):
            report.outcome = .error(error, isPreflight: false)
        case .success(let (response, body)):
            report.actual?.response = response
            let verdict = model.judgeActual(response)
            if !verdict.isAllowed {
                return await self.block(&report, verdict, response: response, asCorsproxy: body, curl: curl)
            }
            report.outcome = .allowed(response)
        }
    }

    /// Records a blocked verdict and its fix, finding out first whether the server is corsproxy.
    private func block(
        _ report: inout DoctorReport,
        _ verdict: BrowserModel.Verdict,
        response: BrowserModel.Response,
        asCorsproxy: BrowserModel.Server,
        curl: CurlLoop
    ) async {
        var server = BrowserModel.Server(isCorsproxy: false)
        if BrowserModel.injectedFault(response) != nil {
            report.corsproxySignal = "X-Corsproxy-Fault on the answer"
            server = asCorsproxy
        } else if await self.probeHealth(curl: curl) {
            report.corsproxySignal = "GET \(BrowserModel.Server.healthPath) answers 200 ok"
            server = asCorsproxy
        }
        report.server = server
        report.fix = report.model.fix(for: verdict, response: response, server: server)
        report.outcome = .blocked(verdict, response)
    }

    /// Whether the URL's origin answers corsproxy's health check: one `GET`, with short timeouts so a server that
    /// does not know the path costs little.
    private func probeHealth(curl: CurlLoop) async -> Bool {
        let request = TransferRequest(
            method: "GET",
            url: Self.origin(ofURL: self.url) + BrowserModel.Server.healthPath,
            headers: [],
            body: .none,
            connectTimeoutMilliseconds: 1_000,
            totalTimeoutMilliseconds: 2_000
        )
        guard let (head, body) = try? await curl.fetch(request, maxBodyBytes: 64) else { return false }
        return BrowserModel.Server.isHealthAnswer(status: head.status, body: body)
    }

    private func send(
        _ method: String,
        headers: [(name: String, value: String)],
        curl: CurlLoop
    ) async -> Result<(BrowserModel.Response, asCorsproxy: BrowserModel.Server), CurlError> {
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
            let (head, body) = try await curl.fetch(request, maxBodyBytes: 64 * 1024)
            let response = BrowserModel.Response(status: head.status, headers: head.headers)
            // What the body says if the server turns out to be corsproxy: read now, as the body is not kept.
            return .success((response, BrowserModel.Server(corsproxyAnswer: body)))
        } catch let error as CurlError {
            return .failure(error)
        } catch {
            preconditionFailure("CurlLoop.fetch throws CurlError only: \(error)")
        }
    }

    /// Chrome's Local Network Access prediction: only a public page is checked, so the URL's host is resolved
    /// only then.
    private func predictLocalNetworkAccess(_ model: BrowserModel) -> BrowserModel.LocalNetworkAccess? {
        guard let page = Origin(self.origin), let (_, host) = BrowserModel.schemeAndHost(of: self.url) else {
            return nil
        }
        let (pageSpace, pageAddress) = Self.classify(page.host)
        guard pageSpace == .public else { return nil }
        let (targetSpace, targetAddress) = Self.classify(host)
        return model.localNetworkAccess(
            pageSpace: pageSpace,
            pageAddress: pageAddress,
            targetSpace: targetSpace,
            targetAddress: targetAddress
        )
    }

    /// A host's address space and the address it was classified by: an IP literal as it is, `localhost` by
    /// name, any other name by its first address (the one a connection tries first).
    static func classify(_ host: String) -> (BrowserModel.AddressSpace, String) {
        if let space = BrowserModel.addressSpace(ofAddress: host) { return (space, host) }
        if let space = BrowserModel.addressSpace(ofName: host) { return (space, host) }
        if let address = Self.resolve(host).first, let space = BrowserModel.addressSpace(ofAddress: address) {
            return (space, address)
        }
        return (BrowserModel.addressSpace(ofUnresolvedName: host), host)
    }

    /// The addresses `getaddrinfo` gives for `host`, in its order; empty when it does not resolve.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let status = getnameinfo(
                entry.pointee.ai_addr,
                entry.pointee.ai_addrlen,
                &text,
                socklen_t(text.count),
                nil,
                0,
                NI_NUMERICHOST
            )
            if status == 0 {
                addresses.append(String(decoding: text.prefix { $0 != 0 }.map(UInt8.init), as: UTF8.self))
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }

    /// `scheme://authority` of a URL: everything before its path, query or fragment.
    static func origin(ofURL url: String) -> String {
        guard let separator = url.firstRange(of: "://") else { return url }
        let rest = url[separator.upperBound...]
        return String(url[..<(rest.firstIndex { "/?#".contains($0) } ?? url.endIndex)])
    }

    /// The text without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

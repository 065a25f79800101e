import NIOCore
import Testing

@testable import CORSProxy

/// The fix for every kind of blocked verdict, pure: the headers the failing answer lacks and, for corsproxy, the
/// `proxy.json` change.
@Suite("Browser model: fixes")
struct BrowserModelFixTests {
    static let origin = "http://localhost:3000"

    static func model(
        method: String = "GET",
        headers: [(String, String)] = [],
        credentials: Bool = false,
        privateNetwork: Bool = false
    ) -> BrowserModel {
        BrowserModel(
            request: .init(
                url: "http://127.0.0.1:8787/rest/v1.0/me",
                origin: Self.origin,
                method: method,
                headers: headers.map { (name: $0.0, value: $0.1) },
                includesCredentials: credentials,
                requestsPrivateNetwork: privateNetwork
            )
        )
    }

    static func response(_ headers: [(String, String)], status: Int = 200) -> BrowserModel.Response {
        .init(status: status, headers: headers.map { (name: $0.0, value: $0.1) })
    }

    static let corsproxy = BrowserModel.Server(isCorsproxy: true)
    static let other = BrowserModel.Server(isCorsproxy: false)

    /// The fix for `response`, judged at the preflight or the actual stage.
    static func fix(
        _ model: BrowserModel,
        _ response: BrowserModel.Response,
        preflight: Bool,
        server: BrowserModel.Server
    ) throws -> (BrowserModel.Failure, BrowserModel.Fix) {
        let verdict = preflight ? model.judgePreflight(response) : model.judgeActual(response)
        let failure = try #require(verdict.failure)
        return (failure, try #require(model.fix(for: verdict, response: response, server: server)))
    }

    @Test("no Access-Control-Allow-Origin: send the origin (and Vary), or allow it in cors.allowedOrigins")
    func missingAllowOrigin() throws {
        let (failure, fix) = try Self.fix(Self.model(), Self.response([]), preflight: false, server: Self.other)
        #expect(failure == .missingAllowOrigin)
        #expect(fix.headers == ["Access-Control-Allow-Origin: http://localhost:3000", "Vary: Origin"])
        #expect(fix.proxyConfig.isEmpty)
        #expect(
            fix.summary
                == "the response must carry \"Access-Control-Allow-Origin: http://localhost:3000\" and \"Vary: Origin\""
        )
        let refusal = BrowserModel.Server(
            isCorsproxy: true,
            proxyError: "origin_not_allowed",
            proxyHint: "port differs: http://localhost:3001 is allowed, the request came from http://localhost:3000"
        )
        let preflight = Self.model(method: "PUT", headers: [("X-Custom", "1")], credentials: true)
        let (_, proxied) = try Self.fix(preflight, Self.response([], status: 403), preflight: true, server: refusal)
        #expect(
            proxied.headers == [
                "Access-Control-Allow-Origin: http://localhost:3000", "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Methods: PUT", "Access-Control-Allow-Headers: X-Custom",
            ]
        )
        #expect(proxied.proxyConfig == ["add \"http://localhost:3000\" to cors.allowedOrigins"])
        #expect(proxied.notes == ["corsproxy: \(refusal.proxyHint!)"])
        #expect(
            proxied.summary
                == "the preflight answer (OPTIONS) must carry \"Access-Control-Allow-Origin: http://localhost:3000\"; proxy.json: add \"http://localhost:3000\" to cors.allowedOrigins"
        )
    }

    @Test("another origin, or two: exactly one Access-Control-Allow-Origin with the page's origin")
    func allowOriginValue() throws {
        let (mismatch, fix) = try Self.fix(
            Self.model(),
            Self.response([("Access-Control-Allow-Origin", "http://localhost:3000/"), ("Vary", "Origin")]),
            preflight: false,
            server: Self.corsproxy
        )
        #expect(mismatch == .allowOriginMismatch("http://localhost:3000/"))
        #expect(fix.headers == ["Access-Control-Allow-Origin: http://localhost:3000"])
        #expect(fix.proxyConfig == ["add \"http://localhost:3000\" to cors.allowedOrigins"])
        let twice = Self.response([("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Origin", Self.origin)])
        let (multiple, other) = try Self.fix(Self.model(), twice, preflight: false, server: Self.other)
        #expect(multiple == .multipleAllowOrigin("*, http://localhost:3000"))
        #expect(other.headers.first == "Access-Control-Allow-Origin: http://localhost:3000")
        #expect(other.summary.contains("send Access-Control-Allow-Origin once"))
        let (_, proxied) = try Self.fix(Self.model(), twice, preflight: false, server: Self.corsproxy)
        #expect(proxied.proxyConfig.isEmpty, "no config change helps: corsproxy sends it once")
        #expect(proxied.summary.contains("a server in front of corsproxy"))
    }

    @Test("credentials: no '*', Access-Control-Allow-Credentials: true, or no credentials mode")
    func credentials() throws {
        let model = Self.model(credentials: true)
        let wildcard = Self.response([
            ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true"),
        ])
        let (failure, fix) = try Self.fix(model, wildcard, preflight: false, server: Self.corsproxy)
        #expect(failure == .wildcardWithCredentials)
        #expect(fix.headers == ["Access-Control-Allow-Origin: http://localhost:3000", "Vary: Origin"])
        #expect(
            fix.proxyConfig == [
                "add \"http://localhost:3000\" to cors.allowedOrigins", "set cors.allowCredentials to true",
            ]
        )
        #expect(fix.notes.first?.hasPrefix("or fetch without credentials: 'include'") == true)
        let missing = Self.response([("Access-Control-Allow-Origin", Self.origin), ("Vary", "Origin")])
        let (notTrue, direct) = try Self.fix(model, missing, preflight: false, server: Self.other)
        #expect(notTrue == .allowCredentialsNotTrue(""))
        #expect(direct.headers == ["Access-Control-Allow-Credentials: true"])
        #expect(
            direct.summary
                == "the response must carry \"Access-Control-Allow-Credentials: true\"; or fetch without credentials: 'include' if the page sends only a bearer token (Authorization needs no credentials mode)"
        )
        let (_, proxied) = try Self.fix(model, missing, preflight: false, server: Self.corsproxy)
        #expect(proxied.proxyConfig == ["set cors.allowCredentials to true"])
    }

    @Test("a preflight status that is not 2xx, or a redirect")
    func preflightStatusAndRedirect() throws {
        let model = Self.model(method: "PUT", headers: [("Authorization", "Bearer x")])
        let allow = [("Access-Control-Allow-Origin", Self.origin)]
        let (status, fix) = try Self.fix(model, Self.response(allow, status: 401), preflight: true, server: Self.other)
        #expect(status == .preflightStatus(401))
        #expect(
            fix.summary.hasPrefix(
                "answer the OPTIONS preflight with 204 (or 200) instead of 401, before any authentication"
            )
        )
        #expect(
            fix.headers == ["Access-Control-Allow-Methods: PUT", "Access-Control-Allow-Headers: Authorization"]
        )
        let hostRefused = BrowserModel.Server(isCorsproxy: true, proxyError: "host_not_allowed")
        let (_, proxied) = try Self.fix(model, Self.response(allow, status: 403), preflight: true, server: hostRefused)
        #expect(proxied.proxyConfig == ["add \"127.0.0.1\" to allowedHosts"])
        #expect(
            proxied.summary
                == "corsproxy refused the request's Host 127.0.0.1 with 403; proxy.json: add \"127.0.0.1\" to allowedHosts"
        )
        let redirect = Self.response([("Location", "https://127.0.0.1:8787/rest/v1.0/me")], status: 307)
        let (redirected, moved) = try Self.fix(model, redirect, preflight: true, server: Self.other)
        #expect(redirected == .preflightRedirect)
        #expect(moved.summary.contains("fetch the URL it redirects to (https://127.0.0.1:8787/rest/v1.0/me)"))
        #expect(moved.headers.first == "Access-Control-Allow-Origin: http://localhost:3000")
    }

    @Test("a method not listed: add it to Access-Control-Allow-Methods and cors.allowedMethods")
    func method() throws {
        let allow = [("Access-Control-Allow-Origin", Self.origin), ("Access-Control-Allow-Methods", "GET, POST")]
        let (failure, fix) = try Self.fix(
            Self.model(method: "PUT"),
            Self.response(allow, status: 204),
            preflight: true,
            server: Self.corsproxy
        )
        #expect(failure == .methodNotAllowed("PUT"))
        #expect(fix.headers == ["Access-Control-Allow-Methods: GET, POST, PUT"])
        #expect(fix.proxyConfig == ["add \"PUT\" to cors.allowedMethods"])
        #expect(
            fix.summary
                == "the preflight answer (OPTIONS) must carry \"Access-Control-Allow-Methods: GET, POST, PUT\"; proxy.json: add \"PUT\" to cors.allowedMethods"
        )
        let (_, lower) = try Self.fix(
            Self.model(method: "patch"),
            Self.response(allow, status: 204),
            preflight: true,
            server: Self.other
        )
        #expect(lower.notes.first?.hasPrefix("or write \"PATCH\" in the fetch") == true)
    }

    @Test(
        "a header not listed: add it, as the script writes it, to Access-Control-Allow-Headers and cors.allowedHeaders"
    )
    func header() throws {
        let model = Self.model(
            method: "PUT",
            headers: [("Authorization", "Bearer x"), ("X-Custom", "1")],
            credentials: true
        )
        let allow = [
            ("Access-Control-Allow-Origin", Self.origin), ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Allow-Methods", "PUT"), ("Access-Control-Allow-Headers", "Authorization"),
        ]
        let (failure, fix) = try Self.fix(
            model,
            Self.response(allow, status: 204),
            preflight: true,
            server: Self.corsproxy
        )
        #expect(failure == .headerNotAllowed("x-custom"))
        #expect(fix.headers == ["Access-Control-Allow-Headers: Authorization, X-Custom"])
        #expect(fix.proxyConfig == ["add \"X-Custom\" to cors.allowedHeaders"])
        let star = allow.dropLast() + [("Access-Control-Allow-Headers", "*")]
        let (_, literal) = try Self.fix(
            model,
            Self.response(Array(star), status: 204),
            preflight: true,
            server: Self.other
        )
        #expect(literal.headers == ["Access-Control-Allow-Headers: Authorization, X-Custom"])
        #expect(literal.notes == ["'*' never covers Authorization: list it by name"])
    }

    @Test("private network access asked for: Access-Control-Allow-Private-Network: true, cors.allowPrivateNetwork")
    func privateNetwork() throws {
        let allow = [("Access-Control-Allow-Origin", Self.origin), ("Access-Control-Allow-Methods", "PUT")]
        let (failure, fix) = try Self.fix(
            Self.model(method: "PUT", privateNetwork: true),
            Self.response(allow, status: 204),
            preflight: true,
            server: Self.corsproxy
        )
        #expect(failure == .privateNetworkNotAllowed)
        #expect(fix.headers == ["Access-Control-Allow-Private-Network: true"])
        #expect(fix.proxyConfig == ["set cors.allowPrivateNetwork to true"])
    }

    @Test("a fault corsproxy injected names itself, whatever the failure")
    func fault() throws {
        let faulted = Self.response([
            ("Access-Control-Allow-Origin", "http://wrong-origin.invalid"), ("X-Corsproxy-Fault", "wrong-allow-origin"),
        ])
        #expect(BrowserModel.injectedFault(faulted) == "wrong-allow-origin")
        let (_, fix) = try Self.fix(Self.model(), faulted, preflight: false, server: Self.corsproxy)
        #expect(
            fix.summary.hasPrefix("nothing to fix in the server: corsproxy injected the \"wrong-allow-origin\" fault")
        )
        #expect(
            fix.proxyConfig.first?.hasPrefix("remove the \"wrong-allow-origin\" fault from routes[].faults") == true
        )
    }

    @Test("an allowed verdict has no fix")
    func allowed() {
        let model = Self.model()
        let response = Self.response([("Access-Control-Allow-Origin", "*")])
        #expect(model.fix(for: model.judgeActual(response), response: response, server: Self.corsproxy) == nil)
    }

    @Test(
        "no response: Chrome's net:: error and what to check",
        arguments: [
            (7, "ERR_CONNECTION_REFUSED", "nothing accepts connections"),
            (6, "ERR_NAME_NOT_RESOLVED", "does not resolve"),
            (28, "ERR_TIMED_OUT", "did not answer in time"), (60, "ERR_CERT_AUTHORITY_INVALID", "not trusted"),
            (52, "ERR_EMPTY_RESPONSE", "without answering"), (99, "ERR_FAILED", "no response"),
        ]
    )
    func networkFailure(code: Int, netError: String, fix: String) {
        let failure = Self.model(method: "PUT").networkFailure(curlCode: code, isPreflight: true)
        #expect(failure.netError == netError)
        #expect(failure.chromeMessage == "PUT http://127.0.0.1:8787/rest/v1.0/me net::\(netError)")
        #expect(failure.fix.contains(fix))
        #expect(failure.fix.hasSuffix("(the preflight failed, so the request was never sent)"))
        #expect(
            failure.firefoxMessages.first?.hasSuffix("(Reason: CORS request did not succeed). Status code: (null).")
                == true
        )
    }

    @Test("corsproxy's answers: the health check's `ok`, a refusal's error code and hint")
    func corsproxyAnswers() {
        #expect(BrowserModel.Server.isHealthAnswer(status: 200, body: ByteBuffer(string: "ok")))
        #expect(BrowserModel.Server.isHealthAnswer(status: 200, body: ByteBuffer(string: "ok\n")))
        #expect(!BrowserModel.Server.isHealthAnswer(status: 200, body: ByteBuffer(string: "{\"ok\":true}")))
        #expect(!BrowserModel.Server.isHealthAnswer(status: 404, body: ByteBuffer(string: "ok")))
        let refusal = BrowserModel.Server(
            corsproxyAnswer: ByteBuffer(
                string:
                    #"{"error":"origin_not_allowed","fix":"add","hint":"trailing slash","message":"m","origin":"o"}"#
            )
        )
        #expect(refusal == .init(isCorsproxy: true, proxyError: "origin_not_allowed", proxyHint: "trailing slash"))
        #expect(BrowserModel.Server(corsproxyAnswer: ByteBuffer(string: "<html>")) == .init(isCorsproxy: true))
    }
}

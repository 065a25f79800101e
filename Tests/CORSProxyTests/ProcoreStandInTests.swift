import Foundation
import Logging
import ProcoreStandIn
import Testing

/// The Procore stand-in `corsproxy demo` runs, asked directly (no proxy): what the SPA and the proxy rely on.
@Suite("Procore stand-in")
struct ProcoreStandInTests {
    static let redirectURI = "http://localhost:8790/"

    /// Runs `body` with a stand-in on free loopback ports.
    static func withStandIn<T>(
        _ body: (ProcoreStandIn, (login: String, api: String)) async throws -> T
    ) async throws -> T {
        let standIn = ProcoreStandIn(logger: Logger(label: "stand-in-test"))
        let urls = try await standIn.start()
        do {
            let result = try await body(standIn, urls)
            await standIn.shutdown()
            return result
        } catch {
            await standIn.shutdown()
            throw error
        }
    }

    /// The fragment of a `Location`, decoded as a browser's `URLSearchParams` does (`+` is a space).
    static func fragment(_ location: String) -> [String: String] {
        let fragment = location.split(separator: "#", maxSplits: 1).dropFirst().first ?? ""
        let pairs = fragment.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                $0.replacing("+", with: " ").removingPercentEncoding ?? ""
            }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        return Dictionary(pairs, uniquingKeysWith: { $1 })
    }

    static func authorize(_ login: String, responseType: String = "token", clientID: String? = nil) -> String {
        var components = URLComponents(string: login + "/oauth/authorize")!
        components.queryItems = [
            URLQueryItem(name: "response_type", value: responseType),
            URLQueryItem(name: "client_id", value: clientID ?? ProcoreStandIn.defaultClientID),
            URLQueryItem(name: "redirect_uri", value: Self.redirectURI),
            URLQueryItem(name: "state", value: "a b&c"),
        ]
        return components.url!.absoluteString
    }

    @Test("the implicit grant redirects to redirect_uri with the token, bearer, expires_in and state in the fragment")
    func implicitGrant() async throws {
        try await Self.withStandIn { _, urls in
            let answer = try await http(Self.authorize(urls.login))
            #expect(answer.status == 302)
            let location = try #require(answer.header("Location"))
            #expect(location.hasPrefix(Self.redirectURI + "#access_token=stand-in."))
            let fragment = Self.fragment(location)
            #expect(fragment["token_type"] == "bearer")
            #expect(fragment["expires_in"] == "86400")
            #expect(fragment["state"] == "a b&c", "state comes back decoded as sent: \(location)")
            let token = try #require(fragment["access_token"])
            let me = try await http(urls.api + "/rest/v1.0/me", headers: ["Authorization: Bearer \(token)"])
            #expect(me.status == 200)
            #expect(try me.json()["login"] as? String == "dev@stand-in.example")
            let info = try await http(urls.login + "/oauth/token/info", headers: ["Authorization: Bearer \(token)"])
            #expect(info.status == 200)
            #expect((try info.json()["application"] as? [String: Any])?["uid"] as? String == "stand-in-client-id")

            let second = Self.fragment(try await http(Self.authorize(urls.login)).header("Location") ?? "")
            #expect(second["access_token"] != token, "each sign-in mints a new random token")
            let code = try await http(Self.authorize(urls.login, responseType: "code"))
            #expect(Self.fragment(code.header("Location") ?? "")["error"] == "unsupported_response_type")
            let stranger = try await http(Self.authorize(urls.login, clientID: "someone-else"))
            #expect(stranger.status == 401)
            #expect(stranger.header("Location") == nil)
        }
    }

    @Test("401 with WWW-Authenticate without a bearer token, or with one it never issued")
    func unauthorized() async throws {
        try await Self.withStandIn { _, urls in
            for headers in [[], ["Authorization: Bearer stand-in.forged"], ["Authorization: Basic eDp5"]] {
                let answer = try await http(urls.api + "/rest/v1.0/me", headers: headers)
                #expect(answer.status == 401, "\(headers)")
                #expect(answer.header("WWW-Authenticate")?.contains("invalid_token") == true)
                #expect(try answer.json()["message"] as? String == "The access token is invalid")
                #expect(answer.header("X-Request-Id")?.hasPrefix("stand-in-") == true)
            }
            #expect(try await http(urls.login + "/oauth/token/info").status == 401)
        }
    }

    @Test("projects are paginated: Total, Per-Page, absolute Link URLs on the API host's own base, rate headers")
    func pagination() async throws {
        try await Self.withStandIn { standIn, urls in
            let token = standIn.issueToken(limit: 100)
            let headers = ["Authorization: Bearer \(token)", "Procore-Company-Id: 8"]
            let first = try await http(urls.api + "/rest/v1.0/projects?company_id=8&per_page=3", headers: headers)
            #expect(first.status == 200)
            #expect(first.header("Total") == "7")
            #expect(first.header("Per-Page") == "3")
            let base = urls.api + "/rest/v1.0/projects?company_id=8"
            #expect(
                first.header("Link")
                    == "<\(base)&page=1&per_page=3>; rel=\"first\", <\(base)&page=2&per_page=3>; rel=\"next\", "
                    + "<\(base)&page=3&per_page=3>; rel=\"last\""
            )
            let names = try JSONSerialization.jsonObject(with: first.body) as? [[String: Any]]
            #expect(
                names?.compactMap { $0["name"] as? String } == [
                    "Harbor Bridge Retrofit", "Elm Street Library", "North Campus Dormitory",
                ]
            )
            #expect(first.header("X-Rate-Limit-Limit") == "100")
            #expect(first.header("X-Rate-Limit-Remaining") == "99")
            #expect(
                Int(first.header("X-Rate-Limit-Reset") ?? "").map { $0 > Int(Date().timeIntervalSince1970) } == true
            )
            #expect(first.header("X-Request-Id")?.hasPrefix("stand-in-") == true)

            let last = try await http(base + "&page=3&per_page=3", headers: headers)
            #expect((try JSONSerialization.jsonObject(with: last.body) as? [Any])?.count == 1)
            #expect(last.header("Link")?.contains("<\(base)&page=2&per_page=3>; rel=\"prev\"") == true)
            #expect(last.header("Link")?.contains("rel=\"next\"") == false)
            #expect(last.header("X-Rate-Limit-Remaining") == "98")
            #expect(last.header("X-Request-Id") != first.header("X-Request-Id"))
        }
    }

    @Test("Procore-Company-Id: required on projects (400 without, 403 for another company), not on /me and /companies")
    func companyHeader() async throws {
        try await Self.withStandIn { standIn, urls in
            let auth = "Authorization: Bearer \(standIn.issueToken(limit: 100))"
            let missing = try await http(urls.api + "/rest/v1.0/projects?company_id=8", headers: [auth])
            #expect(missing.status == 400)
            #expect(missing.text.contains("Missing Procore-Company-Id header!"))
            let other = try await http(urls.api + "/rest/v1.0/projects", headers: [auth, "Procore-Company-Id: 9"])
            #expect(other.status == 403)
            #expect(try await http(urls.api + "/rest/v1.0/me", headers: [auth]).status == 200)
            let companies = try await http(urls.api + "/rest/v1.0/companies", headers: [auth])
            #expect(companies.status == 200)
            #expect(companies.text.contains("Stand-in Construction Co."))
        }
    }

    @Test("429 with Retry-After and X-Rate-Limit-Remaining 0 once a token's budget is spent; other tokens go on")
    func budget() async throws {
        try await Self.withStandIn { standIn, urls in
            let auth = "Authorization: Bearer \(standIn.issueToken(limit: 2))"
            let remaining = try await [
                http(urls.api + "/rest/v1.0/me", headers: [auth]), http(urls.api + "/rest/v1.0/me", headers: [auth]),
            ].map { $0.header("X-Rate-Limit-Remaining") }
            #expect(remaining == ["1", "0"])
            let refused = try await http(urls.api + "/rest/v1.0/me", headers: [auth])
            #expect(refused.status == 429)
            #expect(Int(refused.header("Retry-After") ?? "").map { $0 >= 1 && $0 <= 3600 } == true)
            #expect(refused.header("X-Rate-Limit-Remaining") == "0")
            let fresh = "Authorization: Bearer \(standIn.issueToken(limit: 2))"
            #expect(try await http(urls.api + "/rest/v1.0/me", headers: [fresh]).status == 200)
        }
    }

    @Test("no Access-Control-* header on any answer, preflights included, whatever the Origin")
    func noCORS() async throws {
        try await Self.withStandIn { standIn, urls in
            let origin = "Origin: http://localhost:8790"
            let auth = "Authorization: Bearer \(standIn.issueToken(limit: 100))"
            let answers = try await [
                http(urls.api + "/rest/v1.0/me", headers: [origin, auth]),
                http(urls.api + "/rest/v1.0/me", headers: [origin]),
                http(
                    urls.api + "/rest/v1.0/me",
                    method: "OPTIONS",
                    headers: [
                        origin, "Access-Control-Request-Method: GET",
                        "Access-Control-Request-Headers: authorization",
                    ]
                ),
                http(urls.login + "/oauth/token/info", method: "OPTIONS", headers: [origin]),
                http(Self.authorize(urls.login), headers: [origin]),
            ]
            #expect(answers.map(\.status) == [200, 401, 200, 200, 302])
            for answer in answers {
                #expect(!answer.headers.contains { $0.name.lowercased().hasPrefix("access-control-") })
            }
        }
    }
}

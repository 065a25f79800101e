import Testing

@testable import CORSProxy

/// Every console line Firefox prints for an exchange, in order, as `tests/browser/FIREFOX_CONSOLE.md` recorded
/// them from Firefox 153 (the row letters are that table's).
@Suite("Firefox console lines")
struct FirefoxMessagesTests {
    static let url = "http://127.0.0.1:8787/c"
    static let origin = "http://localhost:3000"
    static let blocked = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at"
    static let notSucceeded = "\(blocked) \(url). (Reason: CORS request did not succeed). Status code: (null)."

    static func model(_ method: String = "PUT", credentials: Bool = false) -> BrowserModel {
        BrowserModel(
            request: .init(
                url: Self.url,
                origin: Self.origin,
                method: method,
                headers: [(name: "Authorization", value: "Bearer t"), (name: "Procore-Company-Id", value: "1")],
                includesCredentials: credentials
            )
        )
    }

    static func lines(preflight status: Int, _ headers: [(String, String)]) -> [String] {
        let model = Self.model()
        let verdict = model.judgePreflight(.init(status: status, headers: headers.map { (name: $0.0, value: $0.1) }))
        return model.firefoxMessages(verdict, status: status)
    }

    static let allowed: [(String, String)] = [
        ("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Methods", "PUT"),
        ("Access-Control-Allow-Headers", "authorization, procore-company-id"),
    ]

    @Test("a blocked preflight: the reason, then 'did not succeed' for the request never sent (rows f, g, i, j)")
    func blockedPreflight() {
        #expect(
            Self.lines(preflight: 204, Array(Self.allowed.dropFirst())) == [
                "\(Self.blocked) \(Self.url). (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 204.",
                Self.notSucceeded,
            ]
        )
        #expect(
            Self.lines(preflight: 403, Self.allowed) == [
                "\(Self.blocked) \(Self.url). (Reason: CORS preflight response did not succeed). Status code: 403.",
                Self.notSucceeded,
            ]
        )
        #expect(
            Self.lines(
                preflight: 204,
                [Self.allowed[0], ("Access-Control-Allow-Methods", "GET, POST"), Self.allowed[2]]
            )
                == [
                    "\(Self.blocked) \(Self.url). (Reason: Did not find method in CORS header ‘Access-Control-Allow-Methods’).",
                    Self.notSucceeded,
                ]
        )
        #expect(
            Self.lines(
                preflight: 204,
                [Self.allowed[0], Self.allowed[1], ("Access-Control-Allow-Headers", "authorization")]
            )
                == [
                    "\(Self.blocked) \(Self.url). (Reason: header ‘procore-company-id’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response).",
                    Self.notSucceeded,
                ]
        )
    }

    @Test(
        "a redirected preflight: three lines with CORS headers on the redirect (h1), the CORS failure first without (h2)"
    )
    func redirectedPreflight() {
        #expect(
            Self.lines(preflight: 307, Self.allowed) == [
                "\(Self.blocked) \(Self.url). (Reason: CORS request external redirect not allowed).",
                "\(Self.blocked) \(Self.url). (Reason: CORS preflight response did not succeed). Status code: 307.",
                Self.notSucceeded,
            ]
        )
        #expect(
            Self.lines(preflight: 307, []) == [
                "\(Self.blocked) \(Self.url). (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 307.",
                Self.notSucceeded, Self.notSucceeded,
            ]
        )
        // Chrome names the redirect either way.
        let model = Self.model()
        #expect(
            model.chromeMessage(model.judgePreflight(.init(status: 307, headers: [])))?
                .hasSuffix("Redirect is not allowed for a preflight request.") == true
        )
    }

    @Test("an actual response's failure is one line; only the wildcard-with-credentials one quotes the URL (rows a, d)")
    func actualResponse() {
        let model = Self.model("GET", credentials: true)
        let missing = model.judgeActual(.init(status: 429, headers: []))
        #expect(
            model.firefoxMessages(missing, status: 429) == [
                "\(Self.blocked) \(Self.url). (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 429."
            ]
        )
        let wildcard = model.judgeActual(
            .init(
                status: 200,
                headers: [
                    (name: "Access-Control-Allow-Origin", value: "*"),
                    (name: "Access-Control-Allow-Credentials", value: "true"),
                ]
            )
        )
        #expect(
            model.firefoxMessages(wildcard, status: 200) == [
                "\(Self.blocked) ‘\(Self.url)’. (Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’)."
            ]
        )
    }

    @Test("'Access-Control-Allow-Headers: *' covers Authorization without credentials, with Firefox's warning (row j2)")
    func wildcardAuthorization() {
        let model = Self.model()
        let verdict = model.judgePreflight(
            .init(
                status: 204,
                headers: [
                    (name: "Access-Control-Allow-Origin", value: Self.origin),
                    (name: "Access-Control-Allow-Methods", value: "PUT"),
                    (name: "Access-Control-Allow-Headers", value: "*"),
                ]
            )
        )
        #expect(verdict.isAllowed)
        #expect(model.chromeMessage(verdict) == nil)
        #expect(
            model.firefoxMessages(verdict, status: 204) == [
                "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote resource at \(Self.url) soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. To include the `Authorization` header, it must be explicitly listed in CORS header `Access-Control-Allow-Headers`)."
            ]
        )
        // With credentials '*' is a literal name: blocked, and Authorization is the first name not listed.
        let credentialed = Self.model(credentials: true)
        let refused = credentialed.judgePreflight(
            .init(
                status: 204,
                headers: [
                    (name: "Access-Control-Allow-Origin", value: Self.origin),
                    (name: "Access-Control-Allow-Credentials", value: "true"),
                    (name: "Access-Control-Allow-Methods", value: "PUT"),
                    (name: "Access-Control-Allow-Headers", value: "*"),
                ]
            )
        )
        #expect(refused.failure == .headerNotAllowed("authorization"))
        #expect(refused.warnings.isEmpty)
    }

    @Test("a missing Access-Control-Allow-Private-Network: Firefox never blocks it and prints nothing")
    func privateNetwork() {
        let model = BrowserModel(
            request: .init(
                preflightTo: Self.url,
                origin: "https://app.example.com",
                method: "PUT",
                listedHeaders: [],
                includesCredentials: false,
                requestsPrivateNetwork: true
            )
        )
        let verdict = model.judgePreflight(
            .init(
                status: 204,
                headers: [
                    (name: "Access-Control-Allow-Origin", value: "https://app.example.com"),
                    (name: "Access-Control-Allow-Methods", value: "PUT"),
                ]
            )
        )
        #expect(verdict.failure == .privateNetworkNotAllowed)
        #expect(model.firefoxMessages(verdict, status: 204).isEmpty)
    }
}

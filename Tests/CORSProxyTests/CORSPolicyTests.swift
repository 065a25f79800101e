import Testing

@testable import CORSProxy

@Suite("CORS policy (pure)")
struct CORSPolicyTests {
    static func policy(_ configure: (inout ProxyConfig.CORS) -> Void = { _ in }) -> CORSPolicy {
        var cors = ProxyConfig.CORS()
        cors.allowedOrigins = ["http://localhost:3000", "https://*.example.com", "http://127.0.0.1:*"].map {
            try! OriginPattern.parse($0).get()
        }
        cors.allowedHeaders = ["Authorization", "Content-Type", "Procore-Company-Id"]
        cors.exposedHeaders = ["Total", "Link"]
        cors.allowCredentials = true
        configure(&cors)
        return CORSPolicy(configuration: cors)
    }

    @Test(
        "origins admitted and refused",
        arguments: [
            ("http://localhost:3000", true), ("HTTP://LOCALHOST:3000", true), ("http://localhost:3001", false),
            ("https://localhost:3000", false), ("http://localhost:3000/", false), ("https://app.example.com", true),
            ("https://a.b.example.com", true), ("https://example.com", false), ("https://evilexample.com", false),
            ("https://example.com.evil.net", false), ("https://app.example.com.", false),
            ("http://app.example.com", false),
            ("http://127.0.0.1", true), ("http://127.0.0.1:80", true), ("http://127.0.0.1:5173", true), ("null", false),
            ("https://user@app.example.com", false), ("https://app_x.example.com", false),
            ("https://*.example.com", false),
            ("https://app.example.com:443", true), ("https://app.example.com:8443", false),
            ("http://127.0.0.1:080", false),
        ]
    )
    func origins(origin: String, allowed: Bool) {
        let verdict = Self.policy().judge(origin: origin)
        if allowed {
            #expect(verdict == .allowed(origin: origin, rule: verdict.rule ?? ""), "\(origin) should be allowed")
            #expect(verdict.rule != nil)
        } else {
            #expect(verdict.rule == nil, "\(origin) should be refused")
        }
    }

    @Test("requests without Origin are not CORS requests")
    func absent() {
        #expect(Self.policy().judge(origin: nil) == .absent)
    }

    @Test(
        "near misses are named",
        arguments: [
            ("http://localhost:3000/", "trailing slash"), ("https://localhost:3000", "scheme differs"),
            ("http://localhost:3001", "port differs"), ("http://127.0.0.1:3000", nil as String?),
            ("null", "opaque origin"),
        ]
    )
    func nearMiss(origin: String, hint: String?) {
        let verdict = Self.policy { $0.allowedOrigins = [try! OriginPattern.parse("http://localhost:3000").get()] }
            .judge(origin: origin)
        guard case .refused(_, let text) = verdict else {
            Issue.record("\(origin) was not refused")
            return
        }
        if let hint {
            #expect(text?.contains(hint) == true, "\(String(describing: text))")
        }
    }

    @Test("localhost and 127.0.0.1 near miss")
    func loopbackNearMiss() {
        let verdict = Self.policy { $0.allowedOrigins = [try! OriginPattern.parse("http://localhost:3000").get()] }
            .judge(origin: "http://127.0.0.1:3000")
        guard case .refused(_, let hint) = verdict else {
            Issue.record("not refused")
            return
        }
        #expect(hint?.contains("localhost and 127.0.0.1 are different origins") == true)
    }

    @Test("actual responses echo the origin, with credentials and exposed headers")
    func actualHeaders() {
        let headers = Self.policy().responseHeaders(origin: "http://localhost:3000")
        #expect(
            headers.map(\.name) == [
                "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
            ]
        )
        #expect(headers.map(\.value) == ["http://localhost:3000", "true", "Total, Link"])
    }

    @Test("a preflight passes when method and every header are allowed")
    func preflightAllowed() {
        let preflight = Self.policy().preflight(
            origin: "http://localhost:3000",
            method: "PATCH",
            requestHeaders: ["authorization, content-type", " Procore-Company-Id "],
            privateNetwork: false
        )
        #expect(preflight.refusal == nil)
        let names = Dictionary(uniqueKeysWithValues: preflight.headers.map { ($0.name, $0.value) })
        #expect(names["Access-Control-Allow-Methods"] == "GET, HEAD, POST, PUT, PATCH, DELETE")
        #expect(names["Access-Control-Allow-Headers"] == "Authorization, Content-Type, Procore-Company-Id")
        #expect(names["Access-Control-Max-Age"] == "600")
        #expect(names["Access-Control-Allow-Credentials"] == "true")
        #expect(names["Access-Control-Expose-Headers"] == nil)
    }

    @Test("a preflight with a method or header not allowed is refused, with Chrome's reason")
    func preflightRefused() {
        let policy = Self.policy()
        let method = policy.preflight(
            origin: "http://localhost:3000",
            method: "PROPFIND",
            requestHeaders: [],
            privateNetwork: false
        )
        #expect(
            method.chromeReason
                == "Method PROPFIND is not allowed by Access-Control-Allow-Methods in preflight response."
        )
        let header = policy.preflight(
            origin: "http://localhost:3000",
            method: "GET",
            requestHeaders: ["authorization,x-secret"],
            privateNetwork: false
        )
        #expect(
            header.chromeReason
                == "Request header field x-secret is not allowed by Access-Control-Allow-Headers in preflight response."
        )
        #expect(header.refusal?.contains("x-secret") == true)
    }

    @Test("with credentials, * in allowedHeaders is a literal name; without, it never covers Authorization")
    func wildcardHeaders() {
        let withCredentials = Self.policy { $0.allowedHeaders = ["*"] }
        #expect(
            withCredentials.preflight(
                origin: "http://localhost:3000",
                method: "GET",
                requestHeaders: ["x-a"],
                privateNetwork: false
            ).refusal != nil
        )
        let without = Self.policy {
            $0.allowedHeaders = ["*"]
            $0.allowCredentials = false
        }
        #expect(
            without.preflight(
                origin: "http://localhost:3000",
                method: "GET",
                requestHeaders: ["x-a"],
                privateNetwork: false
            ).refusal == nil
        )
        #expect(
            without.preflight(
                origin: "http://localhost:3000",
                method: "GET",
                requestHeaders: ["authorization"],
                privateNetwork: false
            ).refusal != nil
        )
    }

    @Test("private network access is granted only when enabled")
    func privateNetwork() {
        let on = Self.policy { $0.allowPrivateNetwork = true }
            .preflight(origin: "http://localhost:3000", method: "GET", requestHeaders: [], privateNetwork: true)
        #expect(on.headers.contains { $0.name == "Access-Control-Allow-Private-Network" && $0.value == "true" })
        let off = Self.policy().preflight(
            origin: "http://localhost:3000",
            method: "GET",
            requestHeaders: [],
            privateNetwork: true
        )
        #expect(!off.headers.contains { $0.name == "Access-Control-Allow-Private-Network" })
        #expect(off.refusal != nil)
    }
}

extension CORSPolicy.OriginVerdict {
    var rule: String? {
        if case .allowed(_, let rule) = self { return rule }
        return nil
    }
}

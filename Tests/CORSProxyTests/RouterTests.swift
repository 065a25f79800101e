import Testing

@testable import CORSProxy

@Suite("Routing and URL rewriting")
struct RouterTests {
    static func route(_ prefix: String, _ upstream: String, strip: Bool = false) -> ProxyConfig.Route {
        .init(prefix: prefix, upstream: UpstreamURL(upstream)!, stripPrefix: strip, forwardCookies: false)
    }

    let router = Router(routes: [
        route("/", "https://sandbox.procore.com"),
        route("/oauth/", "https://login-sandbox.procore.com"),
        route("/files/", "https://storage.example.com/bucket", strip: true),
    ])

    @Test("longest prefix wins")
    func longestPrefix() {
        #expect(self.router.route(for: "/oauth/token")?.prefix == "/oauth/")
        #expect(self.router.route(for: "/oauth")?.prefix == "/")
        #expect(self.router.route(for: "/rest/v1.0/me")?.prefix == "/")
        #expect(self.router.route(for: "/files/a.txt")?.prefix == "/files/")
    }

    @Test("path and query go upstream byte for byte; stripPrefix removes the prefix")
    func upstreamURL() {
        let api = self.router.route(for: "/rest/v1.0/me")!
        #expect(
            Router.upstreamURL(route: api, path: "/rest/v1.0/projects", query: "company_id=1&a=%2F+b&&x")
                == "https://sandbox.procore.com/rest/v1.0/projects?company_id=1&a=%2F+b&&x"
        )
        #expect(
            Router.upstreamURL(route: api, path: "//evil.example/x", query: nil)
                == "https://sandbox.procore.com//evil.example/x"
        )
        let files = self.router.route(for: "/files/a")!
        #expect(
            Router.upstreamURL(route: files, path: "/files/a/b.txt", query: "v=1")
                == "https://storage.example.com/bucket/a/b.txt?v=1"
        )
    }

    @Test("Location on an upstream maps back to the proxy when the proxy routes it there again")
    func rewriteLocation() {
        let base = "http://127.0.0.1:8787"
        #expect(
            self.router.rewrite("https://sandbox.procore.com/rest/v1.0/me?x=1", proxyBase: base)
                == "\(base)/rest/v1.0/me?x=1"
        )
        #expect(self.router.rewrite("https://SANDBOX.procore.com", proxyBase: base) == "\(base)/")
        #expect(
            self.router.rewrite("https://login-sandbox.procore.com/oauth/authorize?a=b", proxyBase: base)
                == "\(base)/oauth/authorize?a=b"
        )
        // The proxy would send /login to sandbox.procore.com, not to the login host: left alone.
        #expect(
            self.router.rewrite("https://login-sandbox.procore.com/login", proxyBase: base)
                == "https://login-sandbox.procore.com/login"
        )
        #expect(
            self.router.rewrite("https://storage.example.com/bucket/a.txt", proxyBase: base) == "\(base)/files/a.txt"
        )
        #expect(
            self.router.rewrite("https://storage.example.com/other", proxyBase: base)
                == "https://storage.example.com/other"
        )
        #expect(
            self.router.rewrite("https://sandbox.procore.com.evil.net/x", proxyBase: base)
                == "https://sandbox.procore.com.evil.net/x"
        )
        #expect(self.router.rewrite("/relative/path", proxyBase: base) == "/relative/path")
    }

    @Test("every Link URL is rewritten, the rest of the value kept")
    func rewriteLink() {
        let value =
            #"<https://sandbox.procore.com/rest/v1.0/projects?page=2&per_page=5>; rel="next", <https://sandbox.procore.com/rest/v1.0/projects?page=9>; rel="last", <https://other.example/x>; rel="help""#
        #expect(
            self.router.rewriteLink(value, proxyBase: "http://localhost:8787")
                == #"<http://localhost:8787/rest/v1.0/projects?page=2&per_page=5>; rel="next", <http://localhost:8787/rest/v1.0/projects?page=9>; rel="last", <https://other.example/x>; rel="help""#
        )
    }
}

import NIOCore
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
        let router = Rewriting(router: self.router, base: ProxyBase(scheme: "http", host: "127.0.0.1:8787"))
        #expect(
            router.rewrite("https://sandbox.procore.com/rest/v1.0/me?x=1")
                == "\(base)/rest/v1.0/me?x=1"
        )
        #expect(router.rewrite("https://SANDBOX.procore.com") == "\(base)/")
        #expect(
            router.rewrite("https://login-sandbox.procore.com/oauth/authorize?a=b")
                == "\(base)/oauth/authorize?a=b"
        )
        // The proxy would send /login to sandbox.procore.com, not to the login host: left alone.
        #expect(
            router.rewrite("https://login-sandbox.procore.com/login")
                == "https://login-sandbox.procore.com/login"
        )
        #expect(
            router.rewrite("https://storage.example.com/bucket/a.txt") == "\(base)/files/a.txt"
        )
        #expect(
            router.rewrite("https://storage.example.com/other")
                == "https://storage.example.com/other"
        )
        #expect(
            router.rewrite("https://sandbox.procore.com.evil.net/x")
                == "https://sandbox.procore.com.evil.net/x"
        )
        #expect(router.rewrite("/relative/path") == "/relative/path")
        // Normalised origins: the default port, case.
        #expect(router.rewrite("https://sandbox.procore.com:443/rest?a") == "\(base)/rest?a")
        #expect(router.rewrite("HTTPS://Sandbox.Procore.com#top") == "\(base)/#top")
        #expect(router.rewrite("https://sandbox.procore.com:8443/x") == "https://sandbox.procore.com:8443/x")
        // Without a `Host`, the path alone.
        #expect(Rewriting(router: self.router, base: nil).rewrite("https://sandbox.procore.com/a?b") == "/a?b")
    }

    @Test("every Link URL is rewritten, the rest of the value kept")
    func rewriteLink() {
        let value =
            #"<https://sandbox.procore.com/rest/v1.0/projects?page=2&per_page=5>; rel="next", <https://sandbox.procore.com/rest/v1.0/projects?page=9>; rel="last", <https://other.example/x>; rel="help""#
        #expect(
            Rewriting(router: self.router, base: ProxyBase(scheme: "http", host: "localhost:8787")).rewriteLink(value)
                == #"<http://localhost:8787/rest/v1.0/projects?page=2&per_page=5>; rel="next", <http://localhost:8787/rest/v1.0/projects?page=9>; rel="last", <https://other.example/x>; rel="help""#
        )
        // A URL on an upstream that the proxy would route elsewhere is kept whole, and so is what came before it.
        let mixed = #"<https://sandbox.procore.com/a>; rel="a", <https://login-sandbox.procore.com/login>, <x"#
        #expect(
            Rewriting(router: self.router, base: ProxyBase(scheme: "https", host: "p.example")).rewriteLink(mixed)
                == #"<https://p.example/a>; rel="a", <https://login-sandbox.procore.com/login>, <x"#
        )
    }
}

/// ``Router``'s rewrites as strings: what each writes into an empty buffer.
private struct Rewriting {
    let router: Router
    let base: ProxyBase?

    func rewrite(_ url: String) -> String {
        Self.written(url) { self.router.writeRewritten($0, proxyBase: self.base, into: &$1) }
    }

    func rewriteLink(_ value: String) -> String {
        Self.written(value) { self.router.writeRewrittenLink($0, proxyBase: self.base, into: &$1) }
    }

    private static func written(_ text: String, _ write: (UnsafeRawBufferPointer, inout ByteBuffer) -> Void) -> String {
        var out = ByteBuffer()
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0), &out) }
        return String(buffer: out)
    }
}

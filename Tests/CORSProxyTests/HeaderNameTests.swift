import Testing

@testable import CORSProxy

@Suite("HeaderName")
struct HeaderNameTests {
    static let known: [(String, HeaderName)] = [
        ("Keep-Alive", .hopByHop), ("Proxy-Connection", .hopByHop), ("Proxy-Authenticate", .hopByHop),
        ("Proxy-Authorization", .hopByHop), ("TE", .hopByHop), ("Trailer", .hopByHop), ("Upgrade", .hopByHop),
        ("Transfer-Encoding", .transferEncoding), ("Connection", .connection), ("Host", .host),
        ("Content-Length", .contentLength), ("Expect", .expect), ("Origin", .origin), ("Cookie", .cookie),
        ("Set-Cookie", .setCookie), ("X-Forwarded-For", .xForwardedFor), ("X-Forwarded-Proto", .xForwardedProto),
        ("X-Forwarded-Host", .xForwardedHost), ("Forwarded", .forwarded), ("Vary", .vary), ("Location", .location),
        ("Content-Location", .contentLocation), ("Link", .link), ("X-Corsproxy-Fault", .xCorsproxyFault),
        ("X-Rate-Limit-Remaining", .xRateLimitRemaining), ("X-Rate-Limit-Reset", .xRateLimitReset),
    ]

    @Test("every name the proxy treats specially is recognised in any case")
    func known() {
        for (name, kind) in Self.known {
            #expect(HeaderName(name) == kind, "\(name)")
            #expect(HeaderName(name.lowercased()) == kind, "\(name)")
            #expect(HeaderName(name.uppercased()) == kind, "\(name)")
        }
    }

    @Test("a name of the same length as a known one, or of none, is other")
    func other() {
        for name in ["", "X", "Tf", "Hosx", "Vari", "Lin", "Links", "Location2", "Content-Lengths", "X-Api-Key"] {
            #expect(HeaderName(name) == .other, "\(name)")
        }
        #expect(HeaderName(String(repeating: "x", count: 200)) == .other)
        #expect(HeaderName("Content Length") == .other)
    }

    @Test("Access-Control-* is one kind, the bare prefix is not")
    func accessControl() {
        #expect(HeaderName("Access-Control-Allow-Origin") == .accessControl)
        #expect(HeaderName("access-control-x") == .accessControl)
        #expect(HeaderName("Access-Control-") == .other)
        #expect(HeaderName("Access-Contro-X") == .other)
    }
}

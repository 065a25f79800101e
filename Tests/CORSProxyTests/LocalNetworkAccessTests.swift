import Testing

@testable import CORSProxy

/// Chrome's Local Network Access, pure: address spaces by the LNA spec's table, and the prediction.
@Suite("Local Network Access")
struct LocalNetworkAccessTests {
    @Test(
        "IPv4 literals: loopback, local (RFC 1918, CGNAT, link-local) and public",
        arguments: [
            ("127.0.0.1", .loopback), ("127.255.1.2", .loopback), ("0.0.0.0", .loopback), ("198.18.0.1", .loopback),
            ("10.1.2.3", .local), ("172.16.0.1", .local), ("172.31.255.255", .local), ("192.168.1.1", .local),
            ("169.254.1.1", .local), ("100.64.0.1", .local), ("100.127.255.254", .local), ("0.1.2.3", .local),
            ("172.32.0.1", .public), ("100.128.0.1", .public), ("8.8.8.8", .public), ("203.0.113.7", .public),
            ("11.0.0.1", .public), ("192.169.0.1", .public),
        ] as [(String, BrowserModel.AddressSpace)]
    )
    func ipv4(address: String, space: BrowserModel.AddressSpace) {
        #expect(BrowserModel.addressSpace(ofAddress: address) == space)
    }

    @Test(
        "IPv6 literals, bracketed or not, zones dropped, IPv4-mapped as their IPv4 address",
        arguments: [
            ("::1", .loopback), ("[::1]", .loopback), ("::", .loopback), ("::ffff:127.0.0.1", .loopback),
            ("fd00::1", .local), ("fc00::1", .local), ("[fd12:3456::1]", .local), ("fe80::1%eth0", .local),
            ("fec0::1", .local), ("2001:db8::1", .local), ("::ffff:192.168.0.1", .local), ("3fff::1", .local),
            ("2606:4700:4700::1111", .public), ("[2a00:1450:4001::200e]", .public), ("::ffff:8.8.8.8", .public),
            ("::2", .public),
        ] as [(String, BrowserModel.AddressSpace)]
    )
    func ipv6(address: String, space: BrowserModel.AddressSpace) {
        #expect(BrowserModel.addressSpace(ofAddress: address) == space)
    }

    @Test("names are not addresses; localhost is loopback by name; an unresolved .local name is local")
    func names() {
        for text in ["localhost", "example.com", "1.2.3", "256.1.1.1", "1.2.3.4.5", "", "[]", "fd00::g"] {
            #expect(BrowserModel.addressSpace(ofAddress: text) == nil, "\(text)")
        }
        #expect(BrowserModel.addressSpace(ofName: "localhost") == .loopback)
        #expect(BrowserModel.addressSpace(ofName: "LOCALHOST.") == .loopback)
        #expect(BrowserModel.addressSpace(ofName: "api.localhost") == .loopback)
        #expect(BrowserModel.addressSpace(ofName: "localhost.example.com") == nil)
        #expect(BrowserModel.addressSpace(ofName: "printer.local") == nil, "a .local name is resolved first")
        #expect(BrowserModel.addressSpace(ofUnresolvedName: "printer.local") == .local)
        #expect(BrowserModel.addressSpace(ofUnresolvedName: "app.example.com") == .public)
        #expect(BrowserModel.AddressSpace.public < .local && BrowserModel.AddressSpace.local < .loopback)
    }

    @Test("a URL's scheme and host: lowercased, IPv6 kept in brackets, userinfo, port, path and query dropped")
    func schemeAndHost() {
        #expect(BrowserModel.schemeAndHost(of: "HTTP://User@[::1]:8787/x?y=1")! == ("http", "[::1]"))
        #expect(BrowserModel.schemeAndHost(of: "https://API.Example.com?x")! == ("https", "api.example.com"))
        #expect(BrowserModel.schemeAndHost(of: "http://127.0.0.1:8787")! == ("http", "127.0.0.1"))
        #expect(BrowserModel.schemeAndHost(of: "no-scheme") == nil)
    }

    static func model(url: String = "http://127.0.0.1:8787/me", origin: String) -> BrowserModel {
        BrowserModel(
            request: .init(url: url, origin: origin, method: "GET", headers: [], includesCredentials: false)
        )
    }

    @Test("a secure public page fetching loopback: Chrome 142 and later prompts before any CORS check")
    func prompt() throws {
        let model = Self.model(origin: "https://app.example.com")
        let access = try #require(
            model.localNetworkAccess(
                pageSpace: .public,
                pageAddress: "93.184.215.14",
                targetSpace: .loopback,
                targetAddress: "127.0.0.1"
            )
        )
        #expect(access.outcome == .prompt)
        #expect(access.message.contains("Chrome 142 and later asks the user"))
        #expect(access.message.contains("before any CORS check"))
        #expect(access.message.contains("no response header can help"))
        #expect(!access.message.contains("mixed content"), "127.0.0.1 is potentially trustworthy")
        #expect(
            access.chromeMessage
                == "Access to fetch at 'http://127.0.0.1:8787/me' from origin 'https://app.example.com' has been blocked by CORS policy: Permission was denied for this request to access the `loopback` address space."
        )
    }

    @Test("an http public page is refused outright: not a secure context, no prompt")
    func insecure() throws {
        let model = Self.model(url: "http://192.168.1.20/api", origin: "http://app.example.com")
        let access = try #require(
            model.localNetworkAccess(
                pageSpace: .public,
                pageAddress: "93.184.215.14",
                targetSpace: .local,
                targetAddress: "192.168.1.20"
            )
        )
        #expect(access.outcome == .rejected)
        #expect(access.message.contains("refuses it outright"))
        #expect(access.message.contains("not a secure context"))
        #expect(access.chromeMessage.hasSuffix("resource is in more-private address space `local`."))
    }

    @Test("an https page fetching http://NAME that resolves to loopback is also mixed content")
    func mixedContent() throws {
        let model = Self.model(url: "http://proxy.test:8787/me", origin: "https://app.example.com")
        let access = try #require(
            model.localNetworkAccess(
                pageSpace: .public,
                pageAddress: "93.184.215.14",
                targetSpace: .loopback,
                targetAddress: "127.0.0.1"
            )
        )
        #expect(access.message.contains("blocked as mixed content unless it passes targetAddressSpace: \"loopback\""))
        for url in ["http://localhost:8787/", "http://192.168.1.2/", "http://printer.local/", "https://proxy.test/"] {
            let other = Self.model(url: url, origin: "https://app.example.com")
            let message = other.localNetworkAccess(
                pageSpace: .public,
                pageAddress: "x",
                targetSpace: .local,
                targetAddress: "192.168.1.2"
            )?.message
            #expect(message?.contains("mixed content") == false, "\(url)")
        }
    }

    @Test("no check unless a public page reaches a less public address (Chromium enforces public → local/loopback)")
    func noCheck() {
        let cases: [(String, BrowserModel.AddressSpace, BrowserModel.AddressSpace)] = [
            ("http://localhost:3000", .loopback, .loopback),
            ("http://192.168.1.5:3000", .local, .loopback),
            ("https://app.example.com", .public, .public),
        ]
        for (origin, page, target) in cases {
            let model = Self.model(origin: origin)
            #expect(
                model.localNetworkAccess(pageSpace: page, pageAddress: "a", targetSpace: target, targetAddress: "b")
                    == nil,
                "\(origin)"
            )
        }
    }
}

import NIOHTTP1
import Testing

@testable import CORSProxy

/// `trustedProxies` on its own: CIDR ranges, and who the client is for each peer and forwarding header.
@Suite("Forwarded chain")
struct ForwardedChainTests {
    static func ranges(_ texts: [String]) -> [CIDR] {
        texts.map { text in
            guard case .success(let range) = CIDR.parse(text) else { preconditionFailure(text) }
            return range
        }
    }

    static let trusted = Self.ranges(["10.0.0.0/8", "fd00::/8", "127.0.0.1"])

    func chain(
        peer: String,
        _ headers: [(String, String)],
        trusted: [CIDR] = Self.trusted,
        readsForwarded: Bool = false
    ) -> ForwardedChain {
        ForwardedChain(
            peer: IPAddress(peer)!,
            headers: HTTPHeaders(headers),
            trusted: trusted,
            readsForwarded: readsForwarded
        )
    }

    @Test("CIDR ranges of both families; a bare address is a range of one; IPv4-mapped is IPv4")
    func ranges() throws {
        let ranges = Self.trusted
        #expect(ranges[0].contains(IPAddress("10.255.0.1")!))
        #expect(!ranges[0].contains(IPAddress("11.0.0.1")!))
        #expect(ranges[0].contains(IPAddress("::ffff:10.1.2.3")!))
        #expect(ranges[1].contains(IPAddress("fd12:3456::1")!))
        #expect(!ranges[1].contains(IPAddress("fe80::1")!))
        #expect(ranges[2].contains(IPAddress("127.0.0.1")!))
        #expect(!ranges[2].contains(IPAddress("127.0.0.2")!))
        #expect(Self.ranges(["0.0.0.0/0"])[0].contains(IPAddress("203.0.113.9")!))
        #expect(!Self.ranges(["0.0.0.0/0"])[0].contains(IPAddress("2001:db8::1")!), "/0 of IPv4 is all IPv4 only")
        #expect(IPAddress("2001:0db8:0:0::1")?.description == "2001:db8::1")
        #expect(IPAddress("[::1]")?.description == "::1")
        for bad in ["10.0.0.0/33", "10.0.0.1/8", "fd00::/129", "example.com", "10.0.0.0/", "[::1]/128", ""] {
            guard case .failure = CIDR.parse(bad) else {
                Issue.record("\(bad) parsed")
                continue
            }
        }
    }

    @Test("an untrusted peer is the client, whatever it forwards")
    func untrustedPeer() {
        let chain = self.chain(peer: "203.0.113.5", [("X-Forwarded-For", "198.51.100.1")])
        #expect(chain == ForwardedChain(peer: IPAddress("203.0.113.5")!))
        #expect(chain.hops == ["203.0.113.5"])
        let noTrust = self.chain(peer: "10.0.0.1", [("X-Forwarded-For", "198.51.100.1")], trusted: [])
        #expect(noTrust.client == "10.0.0.1")
    }

    @Test("from a trusted peer: walk from the right past trusted hops; the first untrusted address is the client")
    func multiHop() {
        let chain = self.chain(
            peer: "10.0.0.1",
            [("X-Forwarded-For", "6.6.6.6, 198.51.100.7"), ("X-Forwarded-For", "10.2.3.4,fd00::9")]
        )
        #expect(chain.client == "198.51.100.7", "6.6.6.6 is what the untrusted client claimed")
        #expect(chain.hops == ["198.51.100.7", "10.2.3.4", "fd00::9", "10.0.0.1"])
    }

    @Test("every hop trusted: the leftmost is the client; garbage ends the walk at the hop that reported it")
    func allTrustedAndGarbage() {
        #expect(self.chain(peer: "127.0.0.1", [("X-Forwarded-For", "10.0.0.2, 10.0.0.3")]).client == "10.0.0.2")
        let garbage = self.chain(peer: "127.0.0.1", [("X-Forwarded-For", "1.2.3.4, nonsense, 10.0.0.3")])
        #expect(garbage.client == "10.0.0.3")
        #expect(garbage.hops == ["10.0.0.3", "127.0.0.1"])
        #expect(self.chain(peer: "127.0.0.1", []).client == "127.0.0.1")
    }

    @Test("ports and brackets are dropped from forwarded addresses")
    func ports() {
        let chain = self.chain(peer: "127.0.0.1", [("X-Forwarded-For", "[2001:db8::5]:4711, 10.0.0.3:80")])
        #expect(chain.hops == ["2001:db8::5", "10.0.0.3", "127.0.0.1"])
    }

    @Test("with forwardedHeaders \"forwarded\", the for= of RFC 7239 Forwarded is read instead")
    func forwarded() {
        let headers = [
            ("X-Forwarded-For", "9.9.9.9"),
            ("Forwarded", #"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.2;by=10.0.0.1"#),
        ]
        let chain = self.chain(peer: "10.0.0.1", headers, readsForwarded: true)
        #expect(chain.hops == ["2001:db8:cafe::17", "10.0.0.2", "10.0.0.1"])
        let unknown = self.chain(peer: "10.0.0.1", [("Forwarded", "for=unknown, for=10.0.0.2")], readsForwarded: true)
        #expect(unknown.client == "10.0.0.2")
        #expect(self.chain(peer: "10.0.0.1", headers).client == "9.9.9.9", "x-forwarded reads X-Forwarded-For")
    }

    @Test("X-Forwarded-Proto from a trusted peer: a single entry, or the one beside the client's address; else none")
    func forwardedProto() {
        let scheme = { (peer: String, headers: [(String, String)]) in self.chain(peer: peer, headers).scheme }
        // A proxy that sets the header (nginx's $scheme, HAProxy's set-header, a cloud balancer).
        #expect(scheme("10.0.0.1", [("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-Proto", "https")]) == .https)
        #expect(scheme("10.0.0.1", [("X-Forwarded-Proto", "HTTPS")]) == .https, "case-insensitive, no XFF needed")
        #expect(scheme("10.0.0.1", [("X-Forwarded-Proto", " http ")]) == .http)
        // Appended per hop: the entry at the client's place, wherever the walk stopped.
        let appended = [
            ("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.2"), ("X-Forwarded-Proto", "ftp, https, http"),
        ]
        #expect(self.chain(peer: "10.0.0.1", appended).client == "198.51.100.7")
        #expect(scheme("10.0.0.1", appended) == .https)
        let mismatched = [("X-Forwarded-For", "198.51.100.7, 10.0.0.2"), ("X-Forwarded-Proto", "https, http, http")]
        #expect(scheme("10.0.0.1", mismatched) == nil, "entries that do not line up with the hops say nothing")
        #expect(scheme("10.0.0.1", [("X-Forwarded-Proto", "ws")]) == nil, "only http and https")
        #expect(scheme("10.0.0.1", [("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "https")]) == nil)
        #expect(scheme("10.0.0.1", []) == nil)
        #expect(scheme("203.0.113.5", [("X-Forwarded-Proto", "https")]) == nil, "an untrusted peer is not believed")
        #expect(self.chain(peer: "10.0.0.1", [("X-Forwarded-Proto", "https")], trusted: []).scheme == nil)
    }

    @Test("Forwarded from a trusted peer: the proto= of the element naming the client")
    func forwardedProtoParameter() {
        let scheme = { (value: String) in
            self.chain(peer: "10.0.0.1", [("Forwarded", value)], readsForwarded: true).scheme
        }
        #expect(scheme("for=198.51.100.7;proto=https") == .https)
        #expect(scheme(#"for=6.6.6.6;proto=http, for=198.51.100.7;Proto="https", for=10.0.0.2;proto=http"#) == .https)
        #expect(scheme("for=198.51.100.7, for=10.0.0.2;proto=https") == nil, "the client's element has none")
        #expect(scheme("for=unknown;proto=https") == .https, "the peer's own element, when its for= is no address")
        #expect(scheme("for=198.51.100.7;proto=gopher") == nil)
        #expect(
            self.chain(peer: "10.0.0.1", [("X-Forwarded-Proto", "https")], readsForwarded: true).scheme == nil,
            "\"forwarded\" reads Forwarded only"
        )
    }
}

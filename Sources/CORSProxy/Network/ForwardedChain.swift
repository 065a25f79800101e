internal import NIOHTTP1

/// Who sent a request and the hops it came through, as far as the proxy can trust them.
///
/// The socket peer is always known. Only when it is in `trustedProxies` are the addresses it claims believed:
/// `X-Forwarded-For` (or, with `forwardedHeaders: "forwarded"`, the `for=` of RFC 7239 `Forwarded`) is walked
/// from the right past trusted hops, and the first untrusted address is the client — nginx's `real_ip_recursive`
/// and Envoy's trusted-hops walk. Everything left of the client is whatever an untrusted party wrote, so it is
/// dropped; an entry that is not an address (`unknown`, an obfuscated `_id`, garbage) ends the walk at the hop
/// that reported it. With every entry trusted, the leftmost is the client.
///
/// The same walk finds the scheme the client used, when a trusted proxy terminated its TLS: the `proto=` of the
/// `Forwarded` element that names the client, or the `X-Forwarded-Proto` entry beside the client's
/// `X-Forwarded-For` entry (a single `X-Forwarded-Proto`, as a proxy that sets rather than appends it writes,
/// stands for the client).
struct ForwardedChain: Sendable, Equatable {
    /// The client's address: what a `"client"` rate limit keys on and the access log's `client`.
    let client: String
    /// The addresses the upstream is told about, client first, the socket peer last: `[peer]` when the peer is not
    /// trusted.
    let hops: [String]
    /// The scheme the client used, as a trusted proxy reported it; `nil` when none did (or said anything else),
    /// and then the client used the proxy's own.
    let scheme: Scheme?

    /// What a trusted proxy may report of the client's scheme. An enum, not a `String`: the chain is copied with
    /// every request, and a payload without a reference to count keeps that copy as cheap as before.
    enum Scheme: String, Sendable {
        case http, https
    }

    /// The chain of a request from `peer` whose claims are not believed.
    init(peer: IPAddress) {
        self.client = peer.description
        self.hops = [self.client]
        self.scheme = nil
    }

    /// The chain of these hops, client first, with the scheme a trusted proxy reported for the client.
    init(hops: [IPAddress], scheme: Scheme? = nil) {
        self.client = hops[0].description
        self.hops = hops.map(\.description)
        self.scheme = scheme
    }

    /// - Parameters:
    ///   - peer: The socket peer's address.
    ///   - headers: The request's headers.
    ///   - trusted: `trustedProxies`.
    ///   - readsForwarded: Read `Forwarded` rather than `X-Forwarded-For`.
    init(peer: IPAddress, headers: HTTPHeaders, trusted: [CIDR], readsForwarded: Bool) {
        guard trusted.contains(where: { $0.contains(peer) }) else {
            self.init(peer: peer)
            return
        }
        let elements = readsForwarded ? Self.forwardedElements(headers["forwarded"]) : []
        let claimed = readsForwarded ? elements.map(Self.forValue(of:)) : Self.list(headers["x-forwarded-for"])
        var hops = [peer]
        for entry in claimed.reversed() {
            guard trusted.contains(where: { $0.contains(hops[hops.count - 1]) }),
                let address = Self.address(entry)
            else { break }
            hops.append(address)
        }
        // The entry that names the client; with none taken, the peer's own entry (whose `for=` was not an
        // address): what the trusted peer saw of the party that connected to it.
        let index = claimed.count - max(hops.count - 1, 1)
        let proto: Substring?
        if readsForwarded {
            proto = elements.indices.contains(index) ? Self.parameter("proto", of: elements[index]) : nil
        } else {
            // One entry per hop, as `X-Forwarded-For` has, or a single one for the client.
            let protos = Self.list(headers["x-forwarded-proto"])
            if protos.count == 1 {
                proto = protos[0]
            } else if protos.count == claimed.count, protos.indices.contains(index) {
                proto = protos[index]
            } else {
                proto = nil
            }
        }
        self.init(hops: hops.reversed(), scheme: proto.flatMap(Self.scheme))
    }

    /// `http` or `https`, whatever the case it was written in; `nil` for anything else.
    private static func scheme(_ text: Substring) -> Scheme? {
        if ASCII.equalsIgnoringCase(text.utf8, "https".utf8) { return .https }
        if ASCII.equalsIgnoringCase(text.utf8, "http".utf8) { return .http }
        return nil
    }

    /// The elements of comma-separated header values, in order, trimmed.
    private static func list(_ values: [String]) -> [Substring] {
        values.flatMap { value in
            value.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        }
    }

    /// The elements of `Forwarded` values (RFC 7239 §4): split at each comma outside quotes.
    private static func forwardedElements(_ values: [String]) -> [Substring] {
        var result: [Substring] = []
        for value in values {
            var inQuotes = false
            var start = value.startIndex
            for index in value.indices {
                let character = value[index]
                if character == "\"" { inQuotes.toggle() }
                if character == ",", !inQuotes {
                    result.append(value[start..<index])
                    start = value.index(after: index)
                }
            }
            let element = value[start...]
            if !element.trimmingSpaces.isEmpty { result.append(element) }
        }
        return result
    }

    /// An element's `for=` value; an element without one counts as an unknown hop.
    private static func forValue(of element: Substring) -> Substring {
        Self.parameter("for", of: element) ?? "unknown"
    }

    /// The value of the parameter `name` in one `Forwarded` element, unquoted.
    private static func parameter(_ name: String, of element: Substring) -> Substring? {
        for pair in element.split(separator: ";") {
            let pair = pair.trimmingSpaces
            guard let equals = pair.firstIndex(of: "="),
                ASCII.equalsIgnoringCase(pair[..<equals].utf8, name.utf8)
            else { continue }
            var value = pair[pair.index(after: equals)...]
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
            return value
        }
        return nil
    }

    /// An address written with or without a port: `192.0.2.7`, `192.0.2.7:443`, `2001:db8::1`, `[2001:db8::1]:443`.
    static func address(_ entry: Substring) -> IPAddress? {
        if let address = IPAddress(entry) { return address }
        if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
            return IPAddress(entry[entry.index(after: entry.startIndex)..<close])
        }
        if let colon = entry.firstIndex(of: ":"), entry[entry.index(after: colon)...].allSatisfy(\.isWholeNumber) {
            return IPAddress(entry[..<colon])
        }
        return nil
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (RFC 9110 OWS).
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}

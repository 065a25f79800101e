#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Chrome's Local Network Access (LNA, Chrome 142 and later): a page may reach a less public address space only
/// after the user allows it, and only from a secure context.
///
/// The address spaces and their blocks are the LNA spec's (WICG `local-network-access`, "Non-public IP address
/// blocks"); Chromium enforces only public → local and public → loopback, which is what is predicted here (a
/// `local` page reaching `loopback` is in the spec but not enforced). The check runs when the connection is made,
/// before the preflight or the request is sent, so no CORS header can make it pass: the user's answer to the
/// prompt decides. An insecure (`http://`) public page is refused without a prompt. Classifying is pure; the
/// caller resolves host names (`getaddrinfo`) and passes the address.
extension BrowserModel {
    /// An IP address space, least public last.
    public enum AddressSpace: String, Sendable, Comparable {
        /// Every address not in a block below: the same target for every device.
        case `public`
        /// RFC 1918, carrier-grade NAT, link-local, unique-local (`fc00::/7`), `.local` names: meaningful only on
        /// the current network.
        case local
        /// `127.0.0.0/8`, `::1`, `localhost`: only this machine.
        case loopback

        private var rank: Int {
            switch self {
            case .public: 0
            case .local: 1
            case .loopback: 2
            }
        }

        /// `lhs < rhs`: `lhs` is more public than `rhs`.
        public static func < (lhs: AddressSpace, rhs: AddressSpace) -> Bool { lhs.rank < rhs.rank }
    }

    /// A prediction that Chrome gates the fetch on Local Network Access.
    public struct LocalNetworkAccess: Sendable, Equatable {
        /// What Chrome does before any CORS check.
        public enum Outcome: String, Sendable {
            /// Asks the user ("Look for and connect to any device on your local network"); the fetch goes on only if
            /// they allow it.
            case prompt
            /// Refuses without asking: the page is not a secure context.
            case rejected
        }

        /// The page's address space and the address (or name) it was classified by.
        public var pageSpace: AddressSpace
        public var pageAddress: String
        /// The URL's address space and the address (or name) it was classified by.
        public var targetSpace: AddressSpace
        public var targetAddress: String
        public var outcome: Outcome
        /// What happens and what can (and cannot) be done, in plain words.
        public var message: String
        /// Chrome's console line when the user declines (or, for ``Outcome/rejected``, always).
        public var chromeMessage: String
    }

    /// The address space of an IP address literal (IPv6 with or without brackets or a `%zone`); `nil` when
    /// `text` is not one.
    public static func addressSpace(ofAddress text: String) -> AddressSpace? {
        var literal = Substring(text)
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = literal.dropFirst().dropLast() }
        if let percent = literal.firstIndex(of: "%") { literal = literal[..<percent] }
        var bytes = [UInt8](repeating: 0, count: 16)
        if !literal.contains(":") {
            guard inet_pton(AF_INET, String(literal), &bytes) == 1 else { return nil }
            return self.addressSpace(ipv4: Array(bytes.prefix(4)))
        }
        guard inet_pton(AF_INET6, String(literal), &bytes) == 1 else { return nil }
        return self.addressSpace(ipv6: bytes)
    }

    /// The address space a host name has whatever it resolves to: `localhost` and `*.localhost` are loopback
    /// (browsers never ask DNS for them); `nil` for any other name, which must be resolved.
    public static func addressSpace(ofName name: String) -> AddressSpace? {
        var host = name.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        return host == "localhost" || host.hasSuffix(".localhost") ? .loopback : nil
    }

    /// The address space of a name that could not be resolved: `.local` (mDNS, RFC 6762) names are local; any
    /// other is taken as public.
    public static func addressSpace(ofUnresolvedName name: String) -> AddressSpace {
        var host = name.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        return host.hasSuffix(".local") ? .local : .public
    }

    /// The LNA spec's table for IPv4 (network byte order).
    static func addressSpace(ipv4 a: [UInt8]) -> AddressSpace {
        switch (a[0], a[1]) {
        case (127, _): return .loopback
        case (10, _), (172, 16...31), (192, 168), (169, 254), (100, 64...127): return .local
        // RFC 2544 benchmarking: the spec puts it in loopback (some systems route it to the host).
        case (198, 18...19): return .loopback
        case (0, _): return a == [0, 0, 0, 0] ? .loopback : .local
        default: return .public
        }
    }

    /// The LNA spec's table for IPv6; an IPv4-mapped address (`::ffff:a.b.c.d`) is classified as its IPv4 address.
    static func addressSpace(ipv6 a: [UInt8]) -> AddressSpace {
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF {
            return self.addressSpace(ipv4: Array(a[12..<16]))
        }
        if a[0..<15].allSatisfy({ $0 == 0 }) && (a[15] == 1 || a[15] == 0) { return .loopback }
        if a[0] & 0xFE == 0xFC { return .local }  // fc00::/7 unique local
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return .local }  // fe80::/10 link-local
        if a[0] == 0xFE && a[1] & 0xC0 == 0xC0 { return .local }  // fec0::/10 site-local (deprecated)
        if a[0..<4] == [0x20, 0x01, 0x0D, 0xB8] { return .local }  // 2001:db8::/32 documentation
        if a[0] == 0x3F && a[1] & 0xF0 == 0xF0 { return .local }  // 3fff::/20 documentation
        return .public
    }

    /// The scheme and host of a URL (`http://h:1/p` → `http`, `h`), lowercased, IPv6 in brackets; `nil` when it
    /// has no `scheme://authority`.
    public static func schemeAndHost(of url: String) -> (scheme: String, host: String)? {
        guard let (scheme, rest) = Origin.splitScheme(url) else { return nil }
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard let (host, _) = Origin.splitHostPort(authority), !host.isEmpty else { return nil }
        return (scheme, host.lowercased())
    }

    /// Predicts Chrome's Local Network Access check for this fetch, given where the page and the URL are.
    /// - Parameters:
    ///   - pageSpace: The page's address space (from its origin's host, resolved).
    ///   - pageAddress: The address or name the page was classified by.
    ///   - targetSpace: The URL's address space (from its host, resolved).
    ///   - targetAddress: The address or name the URL was classified by.
    /// - Returns: `nil` when Chrome does not check: the page is not public, or the URL is.
    public func localNetworkAccess(
        pageSpace: AddressSpace,
        pageAddress: String,
        targetSpace: AddressSpace,
        targetAddress: String
    ) -> LocalNetworkAccess? {
        guard pageSpace == .public, targetSpace > .public else { return nil }
        let origin = self.request.origin
        let space = targetSpace.rawValue
        let situation = "a public page (\(origin)) fetching the \(space) address \(targetAddress)"
        let prefix =
            "Access to fetch at '\(self.request.url)' from origin '\(origin)' has been blocked by CORS policy: "
        guard origin.lowercased().hasPrefix("https://") else {
            return LocalNetworkAccess(
                pageSpace: pageSpace,
                pageAddress: pageAddress,
                targetSpace: targetSpace,
                targetAddress: targetAddress,
                outcome: .rejected,
                message:
                    "Local Network Access: \(situation): Chrome 142 and later refuses it outright, before any CORS check and without asking, because an http:// page is not a secure context; no response header can help: serve the page over https (the user is then asked), or from localhost",
                chromeMessage: prefix
                    + "The request client is not a secure context and the resource is in more-private address space `\(space)`."
            )
        }
        var message =
            "Local Network Access: \(situation): Chrome 142 and later asks the user to allow \(origin) to look for and connect to devices on the local network before any CORS check; if they decline, the fetch fails and no response header can help (Chrome 141 and earlier sent a preflight with Access-Control-Request-Private-Network: true instead, answered by Access-Control-Allow-Private-Network: true)"
        if let (scheme, host) = Self.schemeAndHost(of: self.request.url), scheme == "http",
            !Self.isKnownLocalForMixedContent(host)
        {
            message +=
                "; and as http://\(host) is a name Chrome cannot know is \(space) before connecting, the https page's fetch is blocked as mixed content unless it passes targetAddressSpace: \"\(space)\""
        }
        return LocalNetworkAccess(
            pageSpace: pageSpace,
            pageAddress: pageAddress,
            targetSpace: targetSpace,
            targetAddress: targetAddress,
            outcome: .prompt,
            message: message,
            chromeMessage: prefix + "Permission was denied for this request to access the `\(space)` address space."
        )
    }

    /// Whether an https page may fetch `http://host` without a mixed-content block: loopback literals and
    /// `localhost` are potentially trustworthy, and LNA exempts local IP literals and `.local` names.
    static func isKnownLocalForMixedContent(_ host: String) -> Bool {
        if let space = Self.addressSpace(ofAddress: host) { return space != .public }
        return Self.addressSpace(ofName: host) == .loopback || host.hasSuffix(".local") || host.hasSuffix(".local.")
    }
}

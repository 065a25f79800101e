/// The header names the proxy treats specially, recognised by an ASCII case-insensitive comparison that
/// allocates nothing: this runs for every header of every request and response.
enum HeaderName: Equatable {
    /// RFC 9110 §7.6.1 hop-by-hop headers other than `Connection` and `Transfer-Encoding`.
    case hopByHop
    case connection
    /// Hop-by-hop too, and it overrides `Content-Length` (RFC 9112 §6.3).
    case transferEncoding
    case host
    case contentLength
    case expect
    case origin
    case cookie
    case setCookie
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    /// RFC 7239 `Forwarded`.
    case forwarded
    case xCorsproxyFault
    case vary
    case location
    case contentLocation
    case link
    /// The upstream's remaining rate-limit budget (Procore's and others' `X-Rate-Limit-Remaining`).
    case xRateLimitRemaining
    /// When that budget's window resets, in Unix seconds (`X-Rate-Limit-Reset`).
    case xRateLimitReset
    /// Any `Access-Control-*` header.
    case accessControl
    case other

    /// The names, lowercase, by length: a name is compared only with those of its own length (at most three).
    private static let namesByLength: [[(lowercase: [UInt8], kind: HeaderName)]] = {
        let names: [(String, HeaderName)] = [
            ("keep-alive", .hopByHop), ("proxy-connection", .hopByHop), ("proxy-authenticate", .hopByHop),
            ("proxy-authorization", .hopByHop), ("te", .hopByHop), ("trailer", .hopByHop),
            ("transfer-encoding", .transferEncoding), ("upgrade", .hopByHop), ("connection", .connection),
            ("host", .host),
            ("content-length", .contentLength), ("expect", .expect), ("origin", .origin), ("cookie", .cookie),
            ("set-cookie", .setCookie), ("x-forwarded-for", .xForwardedFor), ("x-forwarded-proto", .xForwardedProto),
            ("x-forwarded-host", .xForwardedHost), ("forwarded", .forwarded), ("vary", .vary), ("location", .location),
            ("content-location", .contentLocation), ("link", .link), ("x-corsproxy-fault", .xCorsproxyFault),
            ("x-rate-limit-remaining", .xRateLimitRemaining), ("x-rate-limit-reset", .xRateLimitReset),
        ]
        var table = Array(
            repeating: [(lowercase: [UInt8], kind: HeaderName)](),
            count: 1 + (names.map(\.0.utf8.count).max() ?? 0)
        )
        for (name, kind) in names { table[name.utf8.count].append((Array(name.utf8), kind)) }
        return table
    }()
    private static let accessControlPrefix = Array("access-control-".utf8)

    init(_ name: String) {
        var name = name
        self = name.withUTF8 { Self(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The kind of the name spelled by `bytes`.
    init(bytes: UnsafeRawBufferPointer) {
        if bytes.count > Self.accessControlPrefix.count,
            ASCII.equalsIgnoringCase(bytes[..<Self.accessControlPrefix.count], Self.accessControlPrefix)
        {
            self = .accessControl
            return
        }
        guard bytes.count < Self.namesByLength.count else {
            self = .other
            return
        }
        for (lowercase, kind) in Self.namesByLength[bytes.count] where ASCII.equalsIgnoringCase(bytes, lowercase) {
            self = kind
            return
        }
        self = .other
    }
}

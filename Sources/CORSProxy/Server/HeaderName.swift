/// The header names the proxy treats specially, recognised by an ASCII case-insensitive comparison that
/// allocates nothing: this runs for every header of every request and response.
enum HeaderName: Equatable {
    /// RFC 9110 §7.6.1 hop-by-hop headers other than `Connection`.
    case hopByHop
    case connection
    case host
    case contentLength
    case expect
    case origin
    case cookie
    case setCookie
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case vary
    case location
    case contentLocation
    case link
    /// Any `Access-Control-*` header.
    case accessControl
    case other

    private static let names: [(lowercase: [UInt8], kind: HeaderName)] = ([
        ("keep-alive", .hopByHop), ("proxy-connection", .hopByHop), ("proxy-authenticate", .hopByHop),
        ("proxy-authorization", .hopByHop), ("te", .hopByHop), ("trailer", .hopByHop),
        ("transfer-encoding", .hopByHop), ("upgrade", .hopByHop), ("connection", .connection), ("host", .host),
        ("content-length", .contentLength), ("expect", .expect), ("origin", .origin), ("cookie", .cookie),
        ("set-cookie", .setCookie), ("x-forwarded-for", .xForwardedFor), ("x-forwarded-proto", .xForwardedProto),
        ("x-forwarded-host", .xForwardedHost), ("vary", .vary), ("location", .location),
        ("content-location", .contentLocation), ("link", .link),
    ] as [(String, HeaderName)]).map { (Array($0.0.utf8), $0.1) }
    private static let accessControlPrefix = Array("access-control-".utf8)

    init(_ name: String) {
        var name = name
        self = name.withUTF8 { bytes in
            if bytes.count > Self.accessControlPrefix.count,
                Self.equalsIgnoringCase(UnsafeBufferPointer(rebasing: bytes[..<Self.accessControlPrefix.count]), Self.accessControlPrefix)
            {
                return .accessControl
            }
            for (lowercase, kind) in Self.names where Self.equalsIgnoringCase(bytes, lowercase) {
                return kind
            }
            return .other
        }
    }

    /// Whether `text` equals `lowercase` (already lowercase ASCII) ignoring ASCII case.
    static func equalsIgnoringCase(_ text: String, _ lowercase: String) -> Bool {
        var text = text
        var lowercase = lowercase
        return text.withUTF8 { bytes in lowercase.withUTF8 { Self.equalsIgnoringCase(bytes, $0) } }
    }

    private static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for (byte, expected) in zip(bytes, lowercase) {
            let folded = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
            if folded != expected { return false }
        }
        return true
    }
}

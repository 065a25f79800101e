internal import CurlBridge
internal import NIOCore
internal import NIOHTTP1

/// Which headers cross the proxy, in each direction.
///
/// Hop-by-hop headers (RFC 9110 §7.6.1) and the names a `Connection` header lists stay on their hop. Framing
/// headers are rebuilt: libcurl frames the upstream request from the body description, and ``ProxyHandler``
/// frames the response (``ResponseEncoder`` writes it). Upstream `Access-Control-*` headers and `Vary` are left to
/// the exchange's ``CORSOutcome``: it is the only CORS source, and a duplicated `Access-Control-Allow-Origin`
/// fails in browsers.
enum HeaderFilter {
    /// Names listed in `Connection` header values, lowercased, without those already known as hop-by-hop
    /// (`keep-alive`, `close`, …): usually none, so most headers are never compared with them.
    static func connectionTokens(_ values: some Sequence<String>) -> [String] {
        var tokens: [String] = []
        for value in values {
            ASCII.forEachListElement(in: value) { token in
                // Classified as bytes: `keep-alive` and `close`, the usual values, need no `String`.
                let kind = HeaderName(bytes: UnsafeRawBufferPointer(token))
                guard kind != .hopByHop, kind != .transferEncoding, kind != .connection,
                    !ASCII.equalsIgnoringCase(token, "close".utf8)
                else { return true }
                let name = String(decoding: token, as: UTF8.self).lowercased()
                if !tokens.contains(name) { tokens.append(name) }
                return true
            }
        }
        return tokens
    }

    private static func isListed(_ name: some Collection<UInt8>, in tokens: [String]) -> Bool {
        !tokens.isEmpty && tokens.contains { ASCII.equalsIgnoringCase(name, $0.utf8) }
    }

    /// The headers to send upstream.
    ///
    /// The forwarding headers are the proxy's alone: whatever `X-Forwarded-*` and `Forwarded` the client sent are
    /// dropped, and the proxy writes `chain` in the family `style` names. What a trusted proxy in front claimed
    /// is in `chain` already (``ForwardedChain`` keeps what it could trust); an untrusted client's claims never
    /// reach the upstream, so the upstream's view of the client cannot be spoofed.
    /// - Parameters:
    ///   - headers: The client's request headers.
    ///   - forwardCookies: Whether the route passes `Cookie` on.
    ///   - chain: The client and the hops it came through; `nil` when the peer's address is unknown.
    ///   - style: `forwardedHeaders`.
    ///   - scheme: `http` or `https`, the proxy's own scheme: `X-Forwarded-Proto` unless a trusted proxy
    ///     reported the client's (`chain`'s `scheme`), and the proxy's own `proto=`.
    ///   - dropsFaultHeader: Request control is on: `X-Corsproxy-Fault` is the proxy's, not the upstream's.
    static func requestHeaders(
        _ headers: HTTPHeaders,
        forwardCookies: Bool,
        chain: ForwardedChain?,
        style: ProxyConfig.ForwardedHeaders,
        scheme: String,
        dropsFaultHeader: Bool = false
    ) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        result.reserveCapacity(headers.count + 3)
        var connectionValues: [String] = []
        var host: String?
        for (name, value) in headers {
            switch HeaderName(name) {
            case .connection:
                connectionValues.append(value)
            case .host:
                host = host ?? value
            case .hopByHop, .transferEncoding, .contentLength, .expect, .origin, .xForwardedFor, .xForwardedProto,
                .xForwardedHost, .forwarded:
                continue
            case .cookie where !forwardCookies:
                continue
            case .xCorsproxyFault where dropsFaultHeader:
                continue
            default:
                result.append((name, value))
            }
        }
        let listed = self.connectionTokens(connectionValues)
        if !listed.isEmpty {
            result.removeAll { self.isListed($0.name.utf8, in: listed) }
        }
        switch style {
        case .xForwarded:
            if let chain { result.append(("X-Forwarded-For", chain.hops.joined(separator: ", "))) }
            result.append(("X-Forwarded-Proto", chain?.scheme?.rawValue ?? scheme))
            if let host { result.append(("X-Forwarded-Host", host)) }
        case .forwarded:
            result.append(("Forwarded", self.forwardedValue(chain: chain, scheme: scheme, host: host)))
        case .none:
            break
        }
        return result
    }

    /// RFC 7239: one element per hop, the proxy's own (the socket peer's) last with `proto` and `host`, and the
    /// client's first with the `proto` a trusted proxy reported for it. IPv6 addresses are bracketed and quoted
    /// (`for="[2001:db8::1]"`), and so is a `host` with a port, since `:` is not a token character (§4, §6); `Host`
    /// has passed `allowedHosts`, so it holds no `"` or `\` to escape.
    static func forwardedValue(chain: ForwardedChain?, scheme: String, host: String?) -> String {
        var elements = (chain?.hops ?? []).map { hop in hop.contains(":") ? "for=\"[\(hop)]\"" : "for=\(hop)" }
        if elements.count > 1, let client = chain?.scheme { elements[0] += ";proto=\(client.rawValue)" }
        var own = elements.popLast().map { [$0] } ?? []
        own.append("proto=\(scheme)")
        if let host { own.append(HTTPToken.isToken(host) ? "host=\(host)" : "host=\"\(host)\"") }
        elements.append(own.joined(separator: ";"))
        return elements.joined(separator: ", ")
    }

    /// What ``writeResponseHeaders(_:into:forwardCookies:dropsContentLength:rewrite:)`` found on the way.
    struct Response {
        /// The upstream's `Vary` values, for merging.
        var vary: [String] = []
        /// The distinct `Content-Length` values: more than one, or one that is not a number, makes the framing
        /// unknowable. Empty when `Transfer-Encoding` overrides them.
        var contentLengths: [String] = []
        /// `X-Rate-Limit-Remaining` as a number, for the metrics and the upstream budget (the line itself passes
        /// unchanged).
        var rateLimitRemaining: Double?
        /// `X-Rate-Limit-Reset` when it is whole Unix seconds, for the upstream budget (the line passes unchanged).
        var rateLimitReset: Int64?
    }

    /// Writes the upstream response header lines a client may see into `out`, before the proxy adds its own CORS
    /// headers. Lines that pass unchanged are copied as bytes; `rewrite` writes `Location`, `Content-Location` and
    /// `Link` values, mapped. `Vary` is left out for the caller to merge; `Content-Length` too when `dropsContentLength`
    /// (a response that has no body) or when the upstream sent `Transfer-Encoding`, which libcurl frames the body by
    /// instead (RFC 9112 §6.3).
    static func writeResponseHeaders(
        _ head: TransferResponseHead,
        into out: inout ByteBuffer,
        forwardCookies: Bool,
        dropsContentLength: Bool,
        rewrite: (_ kind: HeaderName, _ value: UnsafeRawBufferPointer, _ out: inout ByteBuffer) -> Void
    ) -> Response {
        var result = Response()
        head.lines.withUnsafeReadableBytes { bytes in
            func text(_ range: Range<Int>) -> String {
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            }
            var kinds: [HeaderName] = []
            kinds.reserveCapacity(head.fields.count)
            var connectionValues: [String] = []
            var hasTransferEncoding = false
            for field in head.fields {
                let kind = HeaderName(bytes: UnsafeRawBufferPointer(rebasing: bytes[field.name]))
                kinds.append(kind)
                if kind == .connection { connectionValues.append(text(field.value)) }
                if kind == .transferEncoding { hasTransferEncoding = true }
            }
            let listed = self.connectionTokens(connectionValues)
            for (field, kind) in zip(head.fields, kinds) where !self.isListed(bytes[field.name], in: listed) {
                switch kind {
                case .hopByHop, .transferEncoding, .connection, .accessControl:
                    continue
                case .setCookie where !forwardCookies:
                    continue
                case .contentLength where hasTransferEncoding:
                    continue
                case .vary:
                    ASCII.forEachListElement(in: text(field.value)) { element in
                        result.vary.append(String(decoding: element, as: UTF8.self))
                        return true
                    }
                case .location, .contentLocation, .link:
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[field.name]))
                    out.writeStaticString(": ")
                    rewrite(kind, UnsafeRawBufferPointer(rebasing: bytes[field.value]), &out)
                    out.writeStaticString("\r\n")
                case .xRateLimitRemaining:
                    result.rateLimitRemaining = Double(text(field.value))
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[field.line]))
                case .xRateLimitReset:
                    let value = text(field.value)
                    result.rateLimitReset = ASCII.isDecimal(value.utf8) ? Int64(value) : nil
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[field.line]))
                case .contentLength:
                    let value = text(field.value)
                    if !result.contentLengths.contains(value) { result.contentLengths.append(value) }
                    if !dropsContentLength { out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[field.line])) }
                default:
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[field.line]))
                }
            }
        }
        return result
    }
}

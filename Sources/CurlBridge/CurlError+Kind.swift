internal import CCurl

extension CurlError {
    /// What kind of failure an upstream transfer had, from a small fixed set: safe as a metrics label, and enough
    /// to tell a slow upstream from an unreachable one, a TLS problem or a connection cut short.
    public enum Kind: String, Sendable, CaseIterable {
        /// Out of time: `timeouts.connect`, `timeouts.total` or `timeouts.idle` (CURLE_OPERATION_TIMEDOUT).
        case timeout
        /// Name resolution or the TCP connect failed.
        case connect
        /// The TLS handshake or the certificate check failed.
        case tls
        /// The connection broke: reset, closed before a response, or a send or receive error.
        case reset
        /// Anything else, including a malformed response and a transfer cancelled at shutdown.
        case other

        /// The kind of libcurl's result code `code` (``CurlError/code``); see libcurl-errors(3).
        public init(code: Int) {
            switch code {
            case Int(CURLE_OPERATION_TIMEDOUT.rawValue):
                self = .timeout
            case Int(CURLE_COULDNT_RESOLVE_HOST.rawValue), Int(CURLE_COULDNT_RESOLVE_PROXY.rawValue),
                Int(CURLE_COULDNT_CONNECT.rawValue):
                self = .connect
            case Int(CURLE_SSL_CONNECT_ERROR.rawValue), Int(CURLE_PEER_FAILED_VERIFICATION.rawValue),
                Int(CURLE_SSL_CERTPROBLEM.rawValue), Int(CURLE_SSL_CIPHER.rawValue),
                Int(CURLE_SSL_CACERT_BADFILE.rawValue), Int(CURLE_SSL_ISSUER_ERROR.rawValue),
                Int(CURLE_SSL_PINNEDPUBKEYNOTMATCH.rawValue), Int(CURLE_SSL_INVALIDCERTSTATUS.rawValue),
                Int(CURLE_SSL_ENGINE_INITFAILED.rawValue), Int(CURLE_SSL_CRL_BADFILE.rawValue),
                Int(CURLE_SSL_SHUTDOWN_FAILED.rawValue), Int(CURLE_USE_SSL_FAILED.rawValue):
                self = .tls
            case Int(CURLE_GOT_NOTHING.rawValue), Int(CURLE_SEND_ERROR.rawValue), Int(CURLE_RECV_ERROR.rawValue),
                Int(CURLE_PARTIAL_FILE.rawValue), Int(CURLE_HTTP2_STREAM.rawValue):
                self = .reset
            default:
                self = .other
            }
        }
    }

    /// The kind of this failure.
    public var kind: Kind { Kind(code: self.code) }
}

internal import CCurl

/// A failed upstream transfer: libcurl's result code, its description and the per-handle error buffer text.
///
/// The code never leaves this module as a `CURLcode`; callers ask what kind of failure it was
/// (``isTimeout``, ``isUnreachable``) and map it to an HTTP status in one place.
public struct CurlError: Error, Hashable, Sendable, CustomStringConvertible {
    /// libcurl's numeric result code (`CURLcode`), safe as a low-cardinality log or metrics label.
    public let code: Int
    /// A human-readable cause: the error buffer text when libcurl filled it, else `curl_easy_strerror`.
    public let message: String

    init(code: CURLcode, errorBuffer: String) {
        self.code = Int(code.rawValue)
        let summary = String(cString: curl_easy_strerror(code))
        self.message = errorBuffer.isEmpty ? summary : errorBuffer
    }

    init(multiCode: CURLMcode) {
        self.code = -Int(multiCode.rawValue)
        self.message = String(cString: curl_multi_strerror(multiCode))
    }

    /// The transfer ran out of time (connect or total timeout).
    public var isTimeout: Bool {
        self.code == Int(CURLE_OPERATION_TIMEDOUT.rawValue)
    }

    /// The upstream could not be reached at all: name resolution or the TCP connect failed.
    public var isUnreachable: Bool {
        [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_PROXY]
            .contains { Int($0.rawValue) == self.code }
    }

    /// libcurl refused the URL it was given (for example, characters it will not send).
    public var isMalformedURL: Bool {
        self.code == Int(CURLE_URL_MALFORMAT.rawValue)
    }

    public var description: String {
        "curl error \(self.code): \(self.message)"
    }
}

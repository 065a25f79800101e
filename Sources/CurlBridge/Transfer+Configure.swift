package import CCurl

/// Sets up an easy handle for one transfer. Loop thread only.
extension Transfer {
    /// The request's options (``TransferRequest/configure(_:)``), then the transfer's own: its error buffer and
    /// the callbacks that stream through it.
    func configure(_ easy: UnsafeMutableRawPointer, userdata: UnsafeMutableRawPointer) throws(CurlError) {
        self.headerList = try self.request.configure(easy)
        self.errorBuffer[0] = 0
        try check(ccurl_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, self.errorBuffer))
        try check(ccurl_easy_setopt_ptr(easy, CURLOPT_PRIVATE, userdata))
        try check(ccurl_easy_setopt_data_cb(easy, CURLOPT_WRITEFUNCTION, Transfer.writeCallback))
        try check(ccurl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, userdata))
        try check(ccurl_easy_setopt_data_cb(easy, CURLOPT_HEADERFUNCTION, Transfer.headerCallback))
        try check(ccurl_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, userdata))
        if self.request.body != .none, self.request.method != "HEAD" {
            try check(ccurl_easy_setopt_data_cb(easy, CURLOPT_READFUNCTION, Transfer.readCallback))
            try check(ccurl_easy_setopt_ptr(easy, CURLOPT_READDATA, userdata))
        }
    }
}

extension TransferRequest {
    /// The options every transfer gets, all but the callbacks and their data. Security-relevant ones are
    /// commented: the proxy must never reach a host other than the configured upstream, whatever the request
    /// says. `bench/engines floor` applies them alone, to measure libcurl's own cost.
    /// A request with a body also needs `CURLOPT_READFUNCTION` (``Transfer`` sets it): without one libcurl reads
    /// the body from stdin.
    /// - Returns: The `CURLOPT_HTTPHEADER` list, which must outlive the transfer; the caller frees it.
    package func configure(_ easy: UnsafeMutableRawPointer) throws(CurlError) -> UnsafeMutablePointer<curl_slist>? {
        try check(ccurl_easy_setopt_cstr(easy, CURLOPT_URL, self.url))
        // http and https only, and never follow a redirect: Location goes back to the client.
        try check(ccurl_easy_setopt_cstr(easy, CURLOPT_PROTOCOLS_STR, cString("http,https")))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        // Send the path exactly as given: no dot-segment squashing.
        try check(ccurl_easy_setopt_long(easy, CURLOPT_PATH_AS_IS, 1))
        // Only the route's proxy, never the environment's: an empty string ignores http_proxy, https_proxy and
        // all_proxy, and an empty no-proxy list ignores no_proxy (CURLOPT_PROXY(3), CURLOPT_NOPROXY(3)). An https
        // upstream goes through a CONNECT tunnel, an http one as a plain forward-proxy request; the request's own
        // headers (Authorization) are not sent in a CONNECT (CURLHEADER_SEPARATE, libcurl's default). libcurl's
        // connection cache tells proxied connections from direct ones, so the two are never mixed up on reuse.
        if let proxy = self.proxy {
            try check(ccurl_easy_setopt_cstr(easy, CURLOPT_PROXY, proxy))
            try check(ccurl_easy_setopt_cstr(easy, CURLOPT_NOPROXY, cString("")))
        } else {
            try check(ccurl_easy_setopt_cstr(easy, CURLOPT_PROXY, cString("")))
        }
        // Bytes pass through as sent: no Content-Encoding decoding.
        try check(ccurl_easy_setopt_long(easy, CURLOPT_HTTP_CONTENT_DECODING, 0))
        if let caFile = self.caFile {
            try check(ccurl_easy_setopt_cstr(easy, CURLOPT_CAINFO, caFile))
        }
        if self.isHTTP2 {
            // HTTP/2 over TLS (ALPN), multiplexed on one connection per upstream (CURLPIPE_MULTIPLEX is the
            // multi default); PIPEWAIT makes a burst wait for that connection instead of opening more.
            try check(ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS))
            try check(ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1))
        } else {
            try check(ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1))
        }
        // DNS answers and TLS sessions are common to every curl loop.
        try check(ccurl_easy_setopt_ptr(easy, CURLOPT_SHARE, CurlShare.process.handle))
        // Signals are not thread-safe; Debian's threaded resolver keeps DNS timeouts working without them.
        try check(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, self.connectTimeoutMilliseconds))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, self.totalTimeoutMilliseconds))
        if self.stallTimeoutSeconds > 0 {
            // Below 1 byte/s for that long: a head that never comes, or a body that stalls.
            try check(ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1))
            try check(ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, self.stallTimeoutSeconds))
        }
        switch (self.method, self.body) {
        case ("HEAD", _):
            try check(ccurl_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        case ("GET", .none):
            break
        case (_, .none):
            try check(ccurl_easy_setopt_cstr(easy, CURLOPT_CUSTOMREQUEST, self.method))
        case (_, .length(let length)):
            try self.configureUpload(easy, length: length)
        case (_, .chunked):
            try self.configureUpload(easy, length: -1)
        }

        var list: UnsafeMutablePointer<curl_slist>?
        var hasAccept = false
        // Each line is built in one reused byte buffer: string interpolation and the C-string copy of every
        // small string cost more than libcurl's own copy.
        var line: [UInt8] = []
        line.reserveCapacity(256)
        for (name, value) in self.headers {
            // Appended from their contiguous UTF-8: `append(contentsOf: s.utf8)` goes through the view, ~170
            // instructions a string.
            var name = name
            var value = value
            if name.utf8.count == 6, name.lowercased() == "accept" { hasAccept = true }
            line.removeAll(keepingCapacity: true)
            name.withUTF8 { line.append(contentsOf: $0) }
            // "Name;" is curl's syntax for a header with an empty value; "Name:" would remove it.
            if value.isEmpty {
                line.append(UInt8(ascii: ";"))
            } else {
                line.append(UInt8(ascii: ":"))
                line.append(UInt8(ascii: " "))
                value.withUTF8 { line.append(contentsOf: $0) }
            }
            line.append(0)
            list = line.withUnsafeBytes { curl_slist_append(list, $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        }
        // Suppress what curl would add on its own: `Accept: */*` and `Expect: 100-continue`.
        if !hasAccept { list = curl_slist_append(list, cString("Accept:")) }
        list = curl_slist_append(list, cString("Expect:"))
        let code = ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        guard code == CURLE_OK else {
            curl_slist_free_all(list)
            throw CurlError(code: code, errorBuffer: "")
        }
        return list
    }

    private func configureUpload(_ easy: UnsafeMutableRawPointer, length: Int64) throws(CurlError) {
        try check(ccurl_easy_setopt_long(easy, CURLOPT_UPLOAD, 1))
        try check(ccurl_easy_setopt_cstr(easy, CURLOPT_CUSTOMREQUEST, self.method))
        try check(ccurl_easy_setopt_off_t(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(length)))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_UPLOAD_BUFFERSIZE, 64 * 1024))
    }
}

/// A literal as a C string without a copy: Swift keeps a short `String` inline, without a terminating NUL, so
/// passing one to C copies it into a new array first.
private func cString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

private func check(_ code: CURLcode) throws(CurlError) {
    guard code == CURLE_OK else { throw CurlError(code: code, errorBuffer: "") }
}

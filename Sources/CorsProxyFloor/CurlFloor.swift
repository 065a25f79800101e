internal import ArgumentParser
internal import CCurl
internal import CORSProxy
internal import CurlBridge

#if canImport(Glibc)
internal import Glibc
#endif

/// `corsproxy-floor curl`: libcurl alone making the proxy's upstream GETs, with its easy, share and multi
/// options, its handle reuse and its `curl_multi_poll` loop; bodies are copied into a scratch buffer and dropped.
struct CurlFloor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curl",
        abstract: "Keep N upstream GETs in flight on one multi handle, as a curl loop does.",
        discussion: "Prints requests=… errors=… cpu_us=… (this process's user + system CPU time while it ran)."
    )

    @Option(help: "The upstream URL to GET.")
    var url: String

    @Option(help: "The proxy's config file, for its upstream timeouts.")
    var config: String

    @Option(name: .customLong("header"), help: "A request header, \"Name: value\" (repeatable).")
    var headers: [String] = []

    @Option(help: "Transfers kept in flight.")
    var connections = 64

    @Option(help: "Stop after this many requests.")
    var requests: Int?

    @Option(help: "Stop starting requests after this many seconds.")
    var duration: Int?

    func validate() throws {
        guard (self.requests == nil) != (self.duration == nil) else {
            throw ValidationError("give --requests or --duration")
        }
        guard self.connections > 0 else { throw ValidationError("--connections must be at least 1") }
    }

    func run() throws {
        try CurlGlobal.initialize()
        let snapshot = ConfigSnapshot(config: try ProxyConfig.load(path: self.config))
        let headers = try self.headers.map { line in
            guard let colon = line.firstIndex(of: ":") else { throw ValidationError("--header takes Name: value") }
            return (name: String(line[..<colon]), value: String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        let request = TransferRequest(
            method: "GET",
            url: self.url,
            headers: headers,
            body: .none,
            connectTimeoutMilliseconds: snapshot.connectTimeoutMilliseconds,
            totalTimeoutMilliseconds: snapshot.totalTimeoutMilliseconds,
            stallTimeoutSeconds: snapshot.stallTimeoutSeconds
        )
        let deadline = self.duration.map { ContinuousClock.now + .seconds($0) }
        let before = Self.cpuMicroseconds()
        let (done, errors) = try CurlGetLoop(request: request).run(inFlight: self.connections) { started in
            if let requests = self.requests { return started < requests }
            return ContinuousClock.now < deadline!
        }
        print("requests=\(done) errors=\(errors) cpu_us=\(Self.cpuMicroseconds() - before)")
    }

    private static func cpuMicroseconds() -> Int {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + usage.ru_utime.tv_usec
            + usage.ru_stime.tv_usec
    }
}

/// One multi handle on the calling thread, driven as ``CurlLoop`` drives its own: add, `curl_multi_perform`, reap
/// (remove, reset and reuse the easy handle), `curl_multi_poll`.
private struct CurlGetLoop {
    let request: TransferRequest

    /// - Parameters:
    ///   - inFlight: Transfers kept running at once.
    ///   - shouldStart: Whether to start another, given how many have started.
    /// - Returns: Transfers finished, and how many of those failed or answered other than 200.
    func run(inFlight: Int, shouldStart: (Int) -> Bool) throws -> (done: Int, errors: Int) {
        guard let multi = curl_multi_init() else { throw FloorError(description: "curl_multi_init failed") }
        defer { curl_multi_cleanup(multi) }
        CurlLoop.Configuration().configure(multi)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: Self.scratchBytes, alignment: 16)
        defer { scratch.deallocate() }
        var started = 0
        var done = 0
        var errors = 0
        func start(_ easy: UnsafeMutableRawPointer) throws {
            let list = try self.request.configure(easy)
            _ = ccurl_easy_setopt_ptr(easy, CURLOPT_PRIVATE, UnsafeMutableRawPointer(list))
            _ = ccurl_easy_setopt_data_cb(easy, CURLOPT_WRITEFUNCTION, Self.copyBody)
            _ = ccurl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, scratch)
            _ = ccurl_easy_setopt_data_cb(easy, CURLOPT_HEADERFUNCTION, Self.skipHeader)
            _ = curl_multi_add_handle(multi, easy)
            started += 1
        }
        while started < inFlight, shouldStart(started), let easy = curl_easy_init() { try start(easy) }
        var running: Int32 = 0
        var remaining: Int32 = 0
        while true {
            _ = curl_multi_perform(multi, &running)
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                var status = 0
                _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                if ccurl_msg_result(message) != CURLE_OK || status != 200 { errors += 1 }
                var list: UnsafeMutableRawPointer?
                _ = ccurl_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &list)
                curl_multi_remove_handle(multi, easy)
                curl_slist_free_all(list?.assumingMemoryBound(to: curl_slist.self))
                done += 1
                if shouldStart(started) {
                    curl_easy_reset(easy)
                    try start(easy)
                } else {
                    curl_easy_cleanup(easy)
                }
            }
            if done == started { return (done, errors) }
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    /// More than libcurl hands a write callback at once (`CURL_MAX_WRITE_SIZE`, 16 KiB).
    private static let scratchBytes = 64 * 1024

    private static let copyBody: ccurl_data_cb = { buffer, size, count, scratch in
        guard let buffer, let scratch else { return 0 }
        memcpy(scratch, buffer, min(size * count, CurlGetLoop.scratchBytes))
        return size * count
    }

    private static let skipHeader: ccurl_data_cb = { _, size, count, _ in size * count }
}

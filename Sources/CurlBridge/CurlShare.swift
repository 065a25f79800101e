internal import CCurl

#if canImport(Glibc)
internal import Glibc
#endif

/// The one libcurl share handle of the process: every curl loop's easy handles use it, so the DNS cache and TLS
/// sessions are common to all loops and all handles (CURLSHOPT_SHARE(3)). A new upstream connection resumes a TLS
/// session another loop negotiated, instead of a full handshake. Connections themselves stay per multi handle:
/// libcurl does not support sharing them across threads.
///
/// Several threads use it at once, so libcurl takes a lock per kind of shared data through the lock callbacks:
/// one pthread mutex per `curl_lock_data` value.
final class CurlShare: @unchecked Sendable {
    // @unchecked: the handle is only touched by libcurl under the locks below; the mutexes never move.

    /// Created on first use, after ``CurlGlobal/initialize()``; lives as long as the process.
    static let process = CurlShare()

    let handle: UnsafeMutableRawPointer
    private let locks: UnsafeMutablePointer<pthread_mutex_t>

    private init() {
        guard let handle = curl_share_init() else { fatalError("curl_share_init failed: out of memory") }
        self.handle = handle
        let count = Int(CURL_LOCK_DATA_LAST.rawValue)
        self.locks = .allocate(capacity: count)
        for index in 0..<count { pthread_mutex_init(self.locks + index, nil) }
        _ = ccurl_share_setopt_ptr(handle, CURLSHOPT_USERDATA, UnsafeMutableRawPointer(self.locks))
        _ = ccurl_share_setopt_lock(handle) { _, data, _, userdata in
            pthread_mutex_lock(userdata!.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        _ = ccurl_share_setopt_unlock(handle) { _, data, userdata in
            pthread_mutex_unlock(userdata!.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        _ = ccurl_share_setopt_long(handle, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
        _ = ccurl_share_setopt_long(handle, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
    }
}

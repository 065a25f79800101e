internal import CCurl

/// Process-wide libcurl set-up. Call ``initialize()`` once from `main`, before any thread starts
/// (curl_global_init(3): not thread-safe unless `CURL_VERSION_THREADSAFE` is set).
public enum CurlGlobal {
    /// Errors found while setting up libcurl.
    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Initialises libcurl and checks that the linked build can serve the proxy.
    public static func initialize() throws {
        let code = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard code == CURLE_OK else {
            throw SetupError(description: "curl_global_init failed: \(String(cString: curl_easy_strerror(code)))")
        }
        guard let info = ccurl_version_info_now() else {
            throw SetupError(description: "curl_version_info returned nothing")
        }
        // curl_multi_poll (7.66) and curl_multi_wakeup (7.68) drive the loop.
        guard info.pointee.version_num >= 0x07_44_00 else {
            throw SetupError(description: "libcurl \(self.version) is too old: 7.68 or newer is required")
        }
    }

    /// The linked libcurl's version string, such as `7.88.1`.
    public static var version: String {
        guard let info = ccurl_version_info_now(), let version = info.pointee.version else { return "unknown" }
        return String(cString: version)
    }
}

/// What a browser does with a cross-origin `fetch`, following the Fetch standard's CORS checks: whether it sends
/// a preflight, which headers that carries, and whether each response passes; a failure carries the console
/// messages Chrome and Firefox print. Pure: `corsproxy doctor` does the I/O.
public struct BrowserModel: Sendable {
    /// The request as the page's script makes it.
    public struct Request: Sendable {
        public var url: String
        public var origin: String
        public var method: String
        public var headers: [(name: String, value: String)]
        /// `credentials: 'include'`.
        public var includesCredentials: Bool
        /// The preflight carries `Access-Control-Request-Private-Network: true` (Chrome's Private Network Access,
        /// up to M141, for a request from a public page to a private or loopback address).
        public var requestsPrivateNetwork: Bool
        /// The names a received preflight listed, which stand in for the script's headers.
        var listedHeaders: [String]?

        /// - Parameters:
        ///   - url: The URL fetched.
        ///   - origin: The page's origin.
        ///   - method: The method, as the script wrote it.
        ///   - headers: The headers the script sets.
        ///   - includesCredentials: Whether the fetch uses `credentials: 'include'`.
        ///   - requestsPrivateNetwork: Whether the preflight asks for private network access.
        public init(
            url: String,
            origin: String,
            method: String,
            headers: [(name: String, value: String)],
            includesCredentials: Bool,
            requestsPrivateNetwork: Bool = false
        ) {
            self.url = url
            self.origin = origin
            self.method = Self.normalizedMethod(method)
            self.headers = headers
            self.includesCredentials = includesCredentials
            self.requestsPrivateNetwork = requestsPrivateNetwork
        }

        /// A preflight as a server received it: `method` is its `Access-Control-Request-Method` and
        /// `listedHeaders` the names its `Access-Control-Request-Headers` lists (lowercased), taken as they are.
        public init(
            preflightTo url: String,
            origin: String,
            method: String,
            listedHeaders: [String],
            includesCredentials: Bool,
            requestsPrivateNetwork: Bool
        ) {
            self.url = url
            self.origin = origin
            self.method = method
            self.headers = []
            self.listedHeaders = listedHeaders
            self.includesCredentials = includesCredentials
            self.requestsPrivateNetwork = requestsPrivateNetwork
        }

        /// Fetch normalises these six methods to upper case; any other stays as written (`patch` stays `patch`).
        static func normalizedMethod(_ method: String) -> String {
            let upper = method.uppercased()
            return ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].contains(upper) ? upper : method
        }
    }

    /// A response as the browser sees it.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]

        /// - Parameters:
        ///   - status: The status code.
        ///   - headers: The header lines in order.
        public init(status: Int, headers: [(name: String, value: String)]) {
            self.status = status
            self.headers = headers
        }

        func values(_ name: String) -> [String] {
            var values: [String] = []
            for header in self.headers where ASCII.equalIgnoringCase(header.name.utf8, name.utf8) {
                values.append(header.value)
            }
            return values
        }
    }

    /// Why the browser blocks the exchange.
    public enum Failure: Sendable, Equatable {
        case missingAllowOrigin
        case allowOriginMismatch(String)
        case multipleAllowOrigin(String)
        case wildcardWithCredentials
        case allowCredentialsNotTrue(String)
        case preflightStatus(Int)
        case preflightRedirect
        case methodNotAllowed(String)
        case headerNotAllowed(String)
        /// Private network access was asked for and the preflight answer has no
        /// `Access-Control-Allow-Private-Network: true`.
        case privateNetworkNotAllowed
    }

    /// What a browser warns about in a response it still lets through.
    public enum Warning: Sendable, Equatable {
        /// `Access-Control-Allow-Headers: *` for a request with `Authorization` and no credentials: the Fetch
        /// standard does not let `*` cover `Authorization`, yet Chromium 156 and Firefox 153 allow it; Firefox warns
        /// that it soon will not.
        case authorizationCoveredByWildcard
    }

    /// A browser's verdict on one response.
    public struct Verdict: Sendable {
        public var failure: Failure?
        public var isPreflight: Bool
        /// For a redirected preflight, what the CORS check finds on the redirect itself: Firefox checks it before
        /// the redirect and names this failure instead (Chrome names the redirect).
        public var redirectCORSFailure: Failure?
        public var warnings: [Warning]

        /// - Parameters:
        ///   - failure: Why the browser blocks the exchange; `nil` when it lets the script read the response.
        ///   - isPreflight: Whether the response judged is the preflight's.
        ///   - redirectCORSFailure: A redirected preflight's own CORS-check failure.
        ///   - warnings: What the browser warns about.
        public init(
            failure: Failure?,
            isPreflight: Bool,
            redirectCORSFailure: Failure? = nil,
            warnings: [Warning] = []
        ) {
            self.failure = failure
            self.isPreflight = isPreflight
            self.redirectCORSFailure = redirectCORSFailure
            self.warnings = warnings
        }

        public var isAllowed: Bool { self.failure == nil }
    }

    /// Fetch's CORS-safelisted methods: they never need a preflight nor a listing in `Access-Control-Allow-Methods`.
    public static let safelistedMethods = ["GET", "HEAD", "POST"]

    public let request: Request

    /// - Parameter request: The fetch to model.
    public init(request: Request) {
        self.request = request
    }

    /// Fetch's CORS-safelisted request headers (Fetch §2.2.2): the ones that never need a preflight.
    static func isSafelisted(name: String, value: String) -> Bool {
        guard value.utf8.count <= 128 else { return false }
        switch name.lowercased() {
        case "accept":
            return !self.hasUnsafeByte(value)
        case "accept-language", "content-language":
            return value.utf8.allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || " *,-.;=".utf8.contains(byte)
            }
        case "content-type":
            let essence = value.split(separator: ";").first.map { String($0).trimmingOWS().lowercased() } ?? ""
            return !self.hasUnsafeByte(value)
                && ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"].contains(essence)
        default:
            return false
        }
    }

    /// Fetch's CORS-unsafe request-header bytes.
    static func hasUnsafeByte(_ value: String) -> Bool {
        let unsafe: Set<UInt8> = [0x22, 0x28, 0x29, 0x3A, 0x3C, 0x3E, 0x3F, 0x40, 0x5B, 0x5C, 0x5D, 0x7B, 0x7D, 0x7F]
        return value.utf8.contains { ($0 < 0x20 && $0 != 0x09) || unsafe.contains($0) }
    }

    /// The lowercased, sorted, de-duplicated names a preflight lists in `Access-Control-Request-Headers`.
    public var unsafeHeaderNames: [String] {
        if let listed = self.request.listedHeaders { return Array(Set(listed)).sorted() }
        return Array(
            Set(
                self.request.headers.filter { !Self.isSafelisted(name: $0.name, value: $0.value) }.map {
                    $0.name.lowercased()
                }
            )
        ).sorted()
    }

    /// Whether the browser sends a preflight first.
    public var needsPreflight: Bool {
        !Self.safelistedMethods.contains(self.request.method) || !self.unsafeHeaderNames.isEmpty
    }

    /// The preflight's headers, as the browser sends them.
    public var preflightHeaders: [(name: String, value: String)] {
        var headers = [
            (name: "Origin", value: self.request.origin),
            (name: "Access-Control-Request-Method", value: self.request.method),
        ]
        if !self.unsafeHeaderNames.isEmpty {
            headers.append(
                (name: "Access-Control-Request-Headers", value: self.unsafeHeaderNames.joined(separator: ","))
            )
        }
        return headers
    }

    /// Judges the preflight response (CORS-preflight fetch: the CORS check, an ok status, then methods and headers).
    public func judgePreflight(_ response: Response) -> Verdict {
        if (300..<400).contains(response.status) {
            return Verdict(
                failure: .preflightRedirect,
                isPreflight: true,
                redirectCORSFailure: self.corsCheck(response)
            )
        }
        if let failure = self.corsCheck(response) {
            return Verdict(failure: failure, isPreflight: true)
        }
        guard (200..<300).contains(response.status) else {
            return Verdict(failure: .preflightStatus(response.status), isPreflight: true)
        }
        let credentials = self.request.includesCredentials
        let methods = Self.list(response.values("Access-Control-Allow-Methods"))
        let methodAllowed =
            Self.safelistedMethods.contains(self.request.method) || methods.contains(self.request.method)
            || (!credentials && methods.contains("*"))
        if !methodAllowed {
            return Verdict(failure: .methodNotAllowed(self.request.method), isPreflight: true)
        }
        let allowedHeaders = Set(Self.list(response.values("Access-Control-Allow-Headers")).map { $0.lowercased() })
        let wildcard = !credentials && allowedHeaders.contains("*")
        var warnings: [Warning] = []
        for name in self.unsafeHeaderNames where !allowedHeaders.contains(name) {
            guard wildcard else { return Verdict(failure: .headerNotAllowed(name), isPreflight: true) }
            if name == "authorization" { warnings.append(.authorizationCoveredByWildcard) }
        }
        if self.request.requestsPrivateNetwork,
            response.values("Access-Control-Allow-Private-Network").first != "true"
        {
            return Verdict(failure: .privateNetworkNotAllowed, isPreflight: true, warnings: warnings)
        }
        return Verdict(failure: nil, isPreflight: true, warnings: warnings)
    }

    /// Judges a preflight's answer or an actual response.
    func judge(_ response: Response, isPreflight: Bool) -> Verdict {
        isPreflight ? self.judgePreflight(response) : self.judgeActual(response)
    }

    /// Judges the actual response: the CORS check alone (any status passes).
    public func judgeActual(_ response: Response) -> Verdict {
        Verdict(failure: self.corsCheck(response), isPreflight: false)
    }

    /// Fetch's CORS check: one `Access-Control-Allow-Origin` equal to the origin (or `*` without credentials), and
    /// `Access-Control-Allow-Credentials: true` with credentials.
    func corsCheck(_ response: Response) -> Failure? {
        let origins = response.values("Access-Control-Allow-Origin")
        guard let allowOrigin = origins.first else { return .missingAllowOrigin }
        if origins.count > 1 || allowOrigin.utf8.contains(UInt8(ascii: ",")) {
            return .multipleAllowOrigin(origins.joined(separator: ", "))
        }
        if allowOrigin == "*" {
            if self.request.includesCredentials { return .wildcardWithCredentials }
            return nil
        }
        guard allowOrigin == self.request.origin else { return .allowOriginMismatch(allowOrigin) }
        if self.request.includesCredentials {
            let value = response.values("Access-Control-Allow-Credentials").first ?? ""
            if value != "true" { return .allowCredentialsNotTrue(value) }
        }
        return nil
    }

    /// The items of comma-separated header values, trimmed, empty ones dropped.
    public static func list(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.map { String($0).trimmingOWS() }.filter { !$0.isEmpty }
    }

    /// Chrome's console line for a failure (Blink `cors_error_string.cc`).
    public func chromeMessage(_ verdict: Verdict) -> String? {
        guard let failure = verdict.failure else { return nil }
        let reason: String =
            switch failure {
            case .missingAllowOrigin: "No 'Access-Control-Allow-Origin' header is present on the requested resource."
            case .allowOriginMismatch(let value):
                "The 'Access-Control-Allow-Origin' header has a value '\(value)' that is not equal to the supplied origin. Have the server send the header with a valid value."
            case .multipleAllowOrigin(let value):
                "The 'Access-Control-Allow-Origin' header contains multiple values '\(value)', but only one is allowed. Have the server send the header with a valid value."
            case .wildcardWithCredentials:
                "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'."
            case .allowCredentialsNotTrue(let value):
                "The value of the 'Access-Control-Allow-Credentials' header in the response is '\(value)' which must be 'true' when the request's credentials mode is 'include'."
            case .preflightStatus: "It does not have HTTP ok status."
            case .preflightRedirect: "Redirect is not allowed for a preflight request."
            case .methodNotAllowed(let method):
                "Method \(method) is not allowed by Access-Control-Allow-Methods in preflight response."
            case .headerNotAllowed(let name):
                "Request header field \(name) is not allowed by Access-Control-Allow-Headers in preflight response."
            case .privateNetworkNotAllowed:
                "No 'Access-Control-Allow-Private-Network' header was present in the preflight response for this private network request targeting the `local` address space."
            }
        // Chromium 156 (tests/browser/FIREFOX_CONSOLE.md) names the preflight stage except for a method or header
        // the preflight answer does not list.
        let isListCheck: Bool
        switch failure {
        case .methodNotAllowed, .headerNotAllowed: isListCheck = true
        default: isListCheck = false
        }
        let stage =
            verdict.isPreflight && !isListCheck
            ? "Response to preflight request doesn't pass access control check: " : ""
        return
            "Access to fetch at '\(self.request.url)' from origin '\(self.request.origin)' has been blocked by CORS policy: \(stage)\(reason)"
    }

    /// The rule a failure broke, in plain words, with what to change.
    public func explanation(_ failure: Failure) -> String {
        switch failure {
        case .missingAllowOrigin:
            "the response has no Access-Control-Allow-Origin: the server (or proxy) does not allow \(self.request.origin); add it to cors.allowedOrigins"
        case .allowOriginMismatch(let value):
            "Access-Control-Allow-Origin is '\(value)', not the page's origin '\(self.request.origin)': they must match exactly (scheme, host, port; no trailing slash)"
        case .multipleAllowOrigin:
            "Access-Control-Allow-Origin appears more than once (often an upstream and a proxy both add it): exactly one value is allowed"
        case .wildcardWithCredentials:
            "Access-Control-Allow-Origin is '*', which browsers refuse for credentialed requests: echo the origin instead"
        case .allowCredentialsNotTrue:
            "the request includes credentials, so Access-Control-Allow-Credentials must be exactly 'true'"
        case .preflightStatus(let status):
            "the preflight answer is \(status); a preflight must get a 2xx status"
        case .preflightRedirect:
            "the preflight was redirected; browsers never follow redirects for preflights"
        case .methodNotAllowed(let method):
            "\(method) is not in Access-Control-Allow-Methods (methods compare case-sensitively; only GET, HEAD, POST need no listing)"
        case .headerNotAllowed(let name):
            "the request sets '\(name)', which is not in Access-Control-Allow-Headers (with credentials a '*' is a literal name)"
        case .privateNetworkNotAllowed:
            "the preflight asks for private network access and the answer has no Access-Control-Allow-Private-Network: true; set cors.allowPrivateNetwork"
        }
    }
}

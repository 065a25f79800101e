extension ProxyConfig {
    /// `limits.rateLimit`: a token bucket per key.
    public struct RateLimit: Sendable, Equatable {
        /// What a bucket belongs to.
        public enum Key: String, Sendable {
            /// The request's `Origin`; a request without one is keyed by its client address.
            case origin
            /// The client address (``ProxyConfig/trustedProxies`` decides what that is).
            case client
        }

        public var key: Key
        /// Tokens per second: the sustained requests per second per key.
        public var rate: Double
        /// The bucket's capacity: how many requests a quiet key may send at once.
        public var burst: Int

        /// - Parameters:
        ///   - key: What a bucket belongs to.
        ///   - rate: Tokens per second.
        ///   - burst: The bucket's capacity.
        public init(key: Key, rate: Double, burst: Int) {
            self.key = key
            self.rate = rate
            self.burst = burst
        }
    }

    /// `forwardedHeaders`: what the proxy tells the upstream about the client.
    public enum ForwardedHeaders: String, Sendable {
        /// `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`.
        case xForwarded = "x-forwarded"
        /// RFC 7239 `Forwarded: for=…;proto=…;host=…`.
        case forwarded
        /// Nothing: the upstream sees the proxy as the client.
        case none
    }
}

/// Reading the `limits` object, `trustedProxies` and `forwardedHeaders`.
extension ConfigReader {
    mutating func readLimits(_ value: JSONValue) -> ProxyConfig.Limits {
        var limits = ProxyConfig.Limits()
        let known = ["maxHeaderBytes", "maxBodyBytes", "maxConnections", "rateLimit"]
        guard let object = self.object(value, at: "limits", known: known) else { return limits }
        if let value = object["maxHeaderBytes"],
            let bytes = self.number(value, at: "limits.maxHeaderBytes", range: 1024...1_048_576)
        {
            limits.maxHeaderBytes = Int(bytes)
        }
        if let value = object["maxBodyBytes"],
            let bytes = self.number(value, at: "limits.maxBodyBytes", range: 0...1e15)
        {
            limits.maxBodyBytes = Int64(bytes)
        }
        if let value = object["maxConnections"],
            let count = self.wholeNumber(value, at: "limits.maxConnections", range: 0...1_000_000)
        {
            limits.maxConnections = count
        }
        if let value = object["rateLimit"] {
            limits.rateLimit = self.readRateLimit(value)
        }
        return limits
    }

    private mutating func readRateLimit(_ value: JSONValue) -> ProxyConfig.RateLimit? {
        let path = "limits.rateLimit"
        guard let object = self.object(value, at: path, known: ["key", "rate", "burst"]) else { return nil }
        var key: ProxyConfig.RateLimit.Key?
        if let value = object["key"], let text = self.string(value, at: "\(path).key") {
            key = ProxyConfig.RateLimit.Key(rawValue: text)
            if key == nil { self.fail("\(path).key", "\"\(text)\" is neither \"origin\" nor \"client\"") }
        } else if object["key"] == nil {
            self.fail("\(path).key", "missing: \"origin\" or \"client\"")
        }
        let rate = object["rate"].flatMap { self.number($0, at: "\(path).rate", range: 0.001...1_000_000) }
        if object["rate"] == nil { self.fail("\(path).rate", "missing: requests per second per key, e.g. 10") }
        let burst = object["burst"].flatMap { self.wholeNumber($0, at: "\(path).burst", range: 1...1_000_000) }
        if object["burst"] == nil { self.fail("\(path).burst", "missing: requests a key may send at once, e.g. 20") }
        guard let key, let rate, let burst else { return nil }
        return ProxyConfig.RateLimit(key: key, rate: rate, burst: burst)
    }

    mutating func readTrustedProxies(_ value: JSONValue) -> [CIDR] {
        guard let items = self.strings(value, at: "trustedProxies") else { return [] }
        return items.compactMap { path, text in
            switch CIDR.parse(text) {
            case .success(let range): return range
            case .failure(let error):
                self.fail(path, error.description)
                return nil
            }
        }
    }

    mutating func readForwardedHeaders(_ value: JSONValue) -> ProxyConfig.ForwardedHeaders? {
        guard let text = self.string(value, at: "forwardedHeaders") else { return nil }
        guard let mode = ProxyConfig.ForwardedHeaders(rawValue: text) else {
            self.fail("forwardedHeaders", "\"\(text)\" is not one of \"x-forwarded\", \"forwarded\", \"none\"")
            return nil
        }
        return mode
    }

    /// A number in `range` without a fraction.
    private mutating func wholeNumber(_ value: JSONValue, at path: String, range: ClosedRange<Double>) -> Int? {
        guard let number = self.number(value, at: path, range: range) else { return nil }
        guard number == number.rounded() else {
            self.fail(path, "expected a whole number, found \(number)")
            return nil
        }
        return Int(number)
    }
}

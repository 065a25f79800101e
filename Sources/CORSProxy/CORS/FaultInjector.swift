internal import NIOHTTP1
internal import Synchronization

/// Chooses the fault an exchange asks for, if any: the request's own (`corsproxy-fault=` in the query, or
/// `X-Corsproxy-Fault`, with `faults.requestControl`), else the first of its route's rules that matches it and
/// whose `rate` draw comes up. One per config snapshot.
///
/// Draws are repeatable: the *n*-th draw is a hash of the seed and *n*, so the same seed and the same sequence of
/// sampled requests inject the same faults (requests answered in parallel may take their draws in either order).
final class FaultInjector: Sendable {
    /// The query parameter and header a request names its fault with.
    static let parameter = "corsproxy-fault"
    static let header = "x-corsproxy-fault"

    let requestControl: Bool
    private let seed: UInt64
    private let draws = Atomic<UInt64>(0)

    /// - Parameter settings: The config's top-level `faults`.
    init(settings: ProxyConfig.FaultSettings) {
        self.requestControl = settings.requestControl
        self.seed = settings.seed ?? UInt64.random(in: 0...UInt64.max)
    }

    /// The fault a request names itself, when request control is on: the header first, then the query parameter.
    func requested(by head: HTTPRequestHead) -> Fault? {
        guard self.requestControl else { return nil }
        if let value = head.headers.first(name: Self.header), case .success(let fault) = Fault.parse(value) {
            return fault
        }
        guard let value = Self.parameterValue(in: head.uri) else { return nil }
        if case .success(let fault) = Fault.parse(value) { return fault }
        return nil
    }

    /// The first rule of `rules` that matches, if its draw comes up.
    /// - Parameters:
    ///   - rules: The route's rules.
    ///   - method: The request's method; a preflight's `Access-Control-Request-Method`.
    ///   - origin: The request's `Origin`, parsed; `nil` when absent or malformed.
    ///   - applies: Whether a fault can change this exchange at all (its stage, and what the request asks for).
    func chosen(
        from rules: [ProxyConfig.FaultRule],
        method: String,
        origin: Origin?,
        applies: (Fault) -> Bool
    ) -> Fault? {
        for rule in rules where applies(rule.fault) {
            if let methods = rule.methods, !methods.contains(method) { continue }
            if let patterns = rule.origins {
                guard let origin, patterns.contains(where: { $0.matches(origin) }) else { continue }
            }
            return rule.rate >= 1 || self.draw() < rule.rate ? rule.fault : nil
        }
        return nil
    }

    /// The next number of the repeatable sequence, uniform in 0..<1 (SplitMix64 of seed and index).
    private func draw() -> Double {
        let index = self.draws.wrappingAdd(1, ordering: .relaxed).newValue
        var z = self.seed &+ index &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }

    /// The value of `corsproxy-fault` in the target's query, percent-decoded. The query and its pairs are found
    /// byte by byte, as ``RequestTarget`` and the upstream find them.
    static func parameterValue(in uri: String) -> String? {
        guard let query = RequestTarget(uri).query else { return nil }
        for pair in Self.pairs(query) where ASCII.hasPrefix(pair.utf8, Self.assignment.utf8) {
            return String(pair.droppingUTF8(Self.assignment.utf8.count)).removingPercentEncoding ?? ""
        }
        return nil
    }

    /// The target without its `corsproxy-fault` parameters, the rest of the query byte for byte.
    static func removingParameter(from query: Substring) -> Substring {
        let kept = Self.pairs(query).filter {
            !($0.utf8.elementsEqual(Self.parameter.utf8) || ASCII.hasPrefix($0.utf8, Self.assignment.utf8))
        }
        return Substring(kept.joined(separator: "&"))
    }

    private static let assignment = FaultInjector.parameter + "="

    /// The `&`-separated pairs of a query, empty ones included, split at the byte.
    private static func pairs(_ query: Substring) -> [Substring] {
        query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false).map { Substring($0) }
    }
}

extension String {
    /// `%XX` sequences decoded; `nil` when one is malformed or the result is not UTF-8.
    fileprivate var removingPercentEncoding: String? {
        var bytes: [UInt8] = []
        var iterator = self.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(ASCII.hexValue), let low = iterator.next().flatMap(ASCII.hexValue)
            else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// A CORS failure the proxy produces on purpose: each kind makes the browser fail in one named way, at one stage
/// (`../shared/SPEC.md`, "Reproducing CORS errors"). Written `KIND` or `KIND:N` in the config, the
/// `corsproxy-fault` query parameter and the `X-Corsproxy-Fault` header.
public enum Fault: Sendable, Hashable, CustomStringConvertible {
    /// The actual response without `Access-Control-Allow-Origin`.
    case noAllowOrigin
    /// `Access-Control-Allow-Origin: http://wrong-origin.invalid`.
    case wrongAllowOrigin
    /// Two `Access-Control-Allow-Origin` lines.
    case multipleAllowOrigin
    /// `Access-Control-Allow-Origin: *` with `Access-Control-Allow-Credentials: true`.
    case wildcardWithCredentials
    /// The actual response without `Access-Control-Allow-Credentials`.
    case noAllowCredentials
    /// The actual response without `Access-Control-Expose-Headers`: JavaScript reads `null` for those headers.
    case noExposeHeaders
    /// 429 with `Retry-After: 5` and no CORS headers, instead of calling the upstream.
    case errorWithoutCORS
    /// A 204 preflight answer without `Access-Control-Allow-Origin`.
    case preflightNoAllowOrigin
    /// A preflight answered with this non-2xx status and the correct CORS headers.
    case preflightStatus(Int)
    /// A preflight answered 307 to the same URL.
    case preflightRedirect
    /// `Access-Control-Allow-Methods` without the requested method.
    case methodNotAllowed
    /// `Access-Control-Allow-Headers` without a requested header.
    case headerNotAllowed
    /// No `Access-Control-Allow-Private-Network` when the preflight asks for it.
    case privateNetworkMissing
    /// The correct answer, this many milliseconds late.
    case latency(milliseconds: Int)
    /// This status (with CORS headers and `Retry-After`) instead of calling the upstream.
    case status(Int)

    /// The stage a fault changes; the other stage of the same request is answered correctly.
    public enum Stage: Sendable {
        case actual
        case preflight
        case both
    }

    /// Every kind's name, in the order of the spec's table.
    public static let kinds = [
        "no-allow-origin", "wrong-allow-origin", "multiple-allow-origin", "wildcard-with-credentials",
        "no-allow-credentials", "no-expose-headers", "error-without-cors", "preflight-no-allow-origin",
        "preflight-status", "preflight-redirect", "method-not-allowed", "header-not-allowed",
        "private-network-missing", "latency", "status",
    ]

    /// The origin `wrong-allow-origin` announces: `.invalid` never resolves (RFC 6761 §6.4).
    static let wrongOrigin = "http://wrong-origin.invalid"

    /// Parses `KIND` or `KIND:N`.
    /// - Returns: The fault, or why the text is not one.
    public static func parse(_ text: String) -> Result<Fault, FaultSyntaxError> {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        let argument = parts.count > 1 ? String(parts[1]) : nil
        func number(_ range: ClosedRange<Int>, default value: Int) -> Result<Int, FaultSyntaxError> {
            guard let argument else { return .success(value) }
            guard let number = Int(argument), range.contains(number) else {
                return .failure(
                    .init("\(name):\(argument): N must be a whole number in \(range.lowerBound)...\(range.upperBound)")
                )
            }
            return .success(number)
        }
        func plain(_ fault: Fault) -> Result<Fault, FaultSyntaxError> {
            argument == nil ? .success(fault) : .failure(.init("\(name) takes no \":N\""))
        }
        switch name {
        case "no-allow-origin": return plain(.noAllowOrigin)
        case "wrong-allow-origin": return plain(.wrongAllowOrigin)
        case "multiple-allow-origin": return plain(.multipleAllowOrigin)
        case "wildcard-with-credentials": return plain(.wildcardWithCredentials)
        case "no-allow-credentials": return plain(.noAllowCredentials)
        case "no-expose-headers": return plain(.noExposeHeaders)
        case "error-without-cors": return plain(.errorWithoutCORS)
        case "preflight-no-allow-origin": return plain(.preflightNoAllowOrigin)
        case "preflight-status": return number(400...599, default: 403).map { .preflightStatus($0) }
        case "preflight-redirect": return plain(.preflightRedirect)
        case "method-not-allowed": return plain(.methodNotAllowed)
        case "header-not-allowed": return plain(.headerNotAllowed)
        case "private-network-missing": return plain(.privateNetworkMissing)
        case "latency": return number(0...60_000, default: 1000).map { .latency(milliseconds: $0) }
        case "status": return number(400...599, default: 503).map { .status($0) }
        default:
            return .failure(.init("\"\(name)\" is not a fault kind (one of: \(Self.kinds.joined(separator: ", ")))"))
        }
    }

    /// The kind's name, without its argument: bounded, so a log field and a metric label.
    public var kind: String {
        switch self {
        case .noAllowOrigin: "no-allow-origin"
        case .wrongAllowOrigin: "wrong-allow-origin"
        case .multipleAllowOrigin: "multiple-allow-origin"
        case .wildcardWithCredentials: "wildcard-with-credentials"
        case .noAllowCredentials: "no-allow-credentials"
        case .noExposeHeaders: "no-expose-headers"
        case .errorWithoutCORS: "error-without-cors"
        case .preflightNoAllowOrigin: "preflight-no-allow-origin"
        case .preflightStatus: "preflight-status"
        case .preflightRedirect: "preflight-redirect"
        case .methodNotAllowed: "method-not-allowed"
        case .headerNotAllowed: "header-not-allowed"
        case .privateNetworkMissing: "private-network-missing"
        case .latency: "latency"
        case .status: "status"
        }
    }

    /// `KIND` or `KIND:N`, as it is written.
    public var description: String {
        switch self {
        case .preflightStatus(let status), .status(let status): "\(self.kind):\(status)"
        case .latency(let milliseconds): "latency:\(milliseconds)"
        default: self.kind
        }
    }

    public var stage: Stage {
        switch self {
        case .noAllowOrigin, .wrongAllowOrigin, .multipleAllowOrigin, .wildcardWithCredentials, .noAllowCredentials,
            .noExposeHeaders, .errorWithoutCORS, .status:
            .actual
        case .preflightNoAllowOrigin, .preflightStatus, .preflightRedirect, .methodNotAllowed, .headerNotAllowed,
            .privateNetworkMissing:
            .preflight
        case .latency:
            .both
        }
    }

    /// Whether the fault answers an actual request itself (`error-without-cors`, `status`): the upstream is not
    /// called.
    var replacesActualAnswer: Bool {
        switch self {
        case .errorWithoutCORS, .status: true
        default: false
        }
    }

    /// Whether the fault makes a passing exchange fail, so only one whose origin gets CORS headers can carry it;
    /// `error-without-cors`, `status` and `latency` apply to any request.
    var needsAllowedOrigin: Bool {
        switch self {
        case .errorWithoutCORS, .status, .latency: false
        default: true
        }
    }
}

/// Why a text is not a fault.
public struct FaultSyntaxError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

internal import FoundationEssentials

/// The stand-in's account system: the access tokens it issued and each one's rate-limit window. A value type
/// with mutating transitions; ``ProcoreStandIn`` keeps it behind a lock, as both hosts share it.
struct StandInTokens {
    /// One issued access token.
    struct Token {
        var clientID: String
        var limit: Int
        var remaining: Int
        /// When the current window ends, Unix seconds (`X-Rate-Limit-Reset`).
        var reset: Int
        var createdAt: Int
    }

    /// What spending one request of a token's budget came to.
    enum Spend {
        /// Allowed; the window after it.
        case allowed(limit: Int, remaining: Int, reset: Int)
        /// The window's budget is spent: 429 until `reset`.
        case exhausted(limit: Int, reset: Int)
        /// No such token, or it has expired: 401.
        case invalid
    }

    /// How long a token lives: what Procore's old implicit-grant page showed (`expires_in=86400`).
    static let lifetime = 86_400
    /// The length of a rate-limit window, seconds.
    static let window = 3_600

    private var tokens: [String: Token] = [:]
    private var lastRequestID = 0

    /// Mints a random token with `limit` requests per window.
    mutating func issue(clientID: String, limit: Int, now: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let value =
            "stand-in."
            + Data(bytes).base64EncodedString()
            .replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
        self.tokens[value] = Token(
            clientID: clientID,
            limit: limit,
            remaining: limit,
            reset: now + Self.window,
            createdAt: now
        )
        return value
    }

    /// The live token an `Authorization: Bearer …` value names, if any.
    func token(authorization: String?, now: Int) -> Token? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        guard let token = self.tokens[String(authorization.dropFirst("Bearer ".count))],
            now <= token.createdAt + Self.lifetime
        else { return nil }
        return token
    }

    /// Counts one request against the token's window (a new window starts once the old one has ended).
    mutating func spend(authorization: String?, now: Int) -> Spend {
        guard let token = self.token(authorization: authorization, now: now) else { return .invalid }
        let key = String(authorization!.dropFirst("Bearer ".count))
        var spent = token
        if now >= spent.reset {
            spent.remaining = spent.limit
            spent.reset = now + Self.window
        }
        guard spent.remaining > 0 else {
            self.tokens[key] = spent
            return .exhausted(limit: spent.limit, reset: spent.reset)
        }
        spent.remaining -= 1
        self.tokens[key] = spent
        return .allowed(limit: spent.limit, remaining: spent.remaining, reset: spent.reset)
    }

    /// The next `X-Request-Id`: `stand-in-000001`, `stand-in-000002`, …
    mutating func nextRequestID() -> String {
        self.lastRequestID += 1
        let digits = String(self.lastRequestID)
        return "stand-in-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}

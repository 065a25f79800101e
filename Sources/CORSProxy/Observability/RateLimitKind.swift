/// The limits that make the proxy answer 429 itself: the `limit` label of `corsproxy_rate_limited_total`.
enum RateLimitKind: String, CaseIterable, Sendable {
    /// `routes[].upstreamBudget`: a token's upstream budget is down to its minimum.
    case upstreamBudget = "upstream_budget"

    /// The limit whose refusal has this ``ProxyError/code``; `nil` for every other answer.
    init?(errorCode: String) {
        switch errorCode {
        case "upstream_budget_exhausted": self = .upstreamBudget
        default: return nil
        }
    }
}

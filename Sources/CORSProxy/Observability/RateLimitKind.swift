/// The limits that make the proxy answer 429 itself: the `limit` label of `corsproxy_rate_limited_total`, and
/// the access log's `limit`.
enum RateLimitKind: String, CaseIterable, Sendable {
    /// `limits.rateLimit`: the key's token bucket is empty.
    case rate = "rate"
    /// `routes[].upstreamBudget`: a token's upstream budget is down to its minimum.
    case upstreamBudget = "upstream_budget"
}

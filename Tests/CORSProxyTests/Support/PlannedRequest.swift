import NIOHTTP1

@testable import CORSProxy

extension ConfigSnapshot {
    /// The plan `ProxyHandler` makes for `head` under this snapshot: its route, the CORS outcome judged from its
    /// `Origin`, then the plan.
    func plan(for head: HTTPRequestHead, chain: ForwardedChain?, budget: UpstreamBudget? = nil) -> RequestPlan {
        let route = self.router.route(for: head.uri.prefix { $0 != "?" })
        let origin = head.headers.first(name: "origin")
        let cors = self.outcome(
            for: head,
            verdict: self.policy.judge(origin: origin),
            origin: origin.flatMap(Origin.init),
            route: route
        )
        return RequestPlan(head: head, cors: cors, route: route, snapshot: self, chain: chain, budget: budget)
    }
}

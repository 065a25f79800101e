internal import NIOHTTP1

extension ConfigSnapshot {
    /// The plan for `head` under this snapshot, judged from nothing: its route, the CORS outcome of its `Origin`,
    /// then the plan. `ProxyHandler` makes the same sequence with its connection's cached `Origin` verdict; the
    /// fuzz entry points and the tests make it with this.
    func plan(for head: HTTPRequestHead, chain: ForwardedChain?, budget: UpstreamBudget? = nil) -> RequestPlan {
        let route = self.router.route(for: RequestTarget(head.uri).path)
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

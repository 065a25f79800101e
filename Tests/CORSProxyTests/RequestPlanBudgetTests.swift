import CurlBridge
import Foundation
import NIOConcurrencyHelpers
import NIOHTTP1
import Testing

@testable import CORSProxy

/// Where the plan checks a route's upstream budget, and what it forwards with a route's proxy.
@Suite("Request plan: upstream budget and proxy")
struct RequestPlanBudgetTests {
    static let snapshot = ConfigSnapshot(
        config: try! ProxyConfig.parse(
            Data(
                """
                {"routes": [{"prefix": "/", "upstream": "https://api.example.com", "upstreamBudget": {"minimumRemaining": 1},
                             "proxy": "http://proxy.corp.example:3128"},
                            {"prefix": "/free/", "upstream": "https://api.example.com"}],
                 "cors": {"allowedOrigins": ["http://localhost:3000"], "exposedHeaders": ["Link"]}}
                """.utf8
            )
        )
    )

    static func plan(_ uri: String, _ headers: [(String, String)], budget: UpstreamBudget) -> RequestPlan {
        let head = HTTPRequestHead(
            version: .http1_1,
            method: .GET,
            uri: uri,
            headers: HTTPHeaders([("Host", "127.0.0.1")] + headers)
        )
        return Self.snapshot.plan(for: head, chain: nil, budget: budget)
    }

    @Test("an exhausted token gets 429 on budgeted routes only; no Authorization, no budget; a refused origin first")
    func checkedAfterRouteAndOrigin() throws {
        let budget = UpstreamBudget(clock: { 1000 })
        let token = [("Authorization", "Bearer t"), ("Origin", "http://localhost:3000")]
        let key = try #require(budget.key(for: HTTPHeaders(token), upstream: "https://api.example.com"))
        budget.observe(key, remaining: 1, reset: 1030)

        let refused = Self.plan("/rest/v1.0/me", token, budget: budget)
        guard case .respond(let response, .limited, false) = refused.action else {
            Issue.record("\(refused.action)")
            return
        }
        #expect(response.status == .tooManyRequests && response.error?.code == "upstream_budget_exhausted")
        #expect(response.headers.contains { $0 == ("Retry-After", "30") })
        #expect(response.error?.limit?.kind == .upstreamBudget && response.error?.limit?.retryAfter == 30)

        for (uri, headers) in [("/free/x", token), ("/rest/v1.0/me", [("Origin", "http://localhost:3000")])] {
            let plan = Self.plan(uri, headers, budget: budget)
            guard case .forward = plan.action else {
                Issue.record("\(uri) \(headers): \(plan.action)")
                continue
            }
        }
        let evil = Self.plan(
            "/rest/v1.0/me",
            [("Authorization", "Bearer t"), ("Origin", "http://evil.example")],
            budget: budget
        )
        guard case .respond(let forbidden, _, _) = evil.action else {
            Issue.record("\(evil.action)")
            return
        }
        #expect(forbidden.error?.code == "origin_not_allowed")
    }

    @Test("a forwarded request carries its budget key and its route's proxy")
    func forwarded() throws {
        let budget = UpstreamBudget(clock: { 1000 })
        let plan = Self.plan("/rest/v1.0/me", [("Authorization", "Bearer fresh")], budget: budget)
        guard case .forward(_, let request) = plan.action else {
            Issue.record("\(plan.action)")
            return
        }
        #expect(request.proxy == "http://proxy.corp.example:3128")
        #expect(
            plan.budgetKey
                == budget.key(
                    for: HTTPHeaders([("Authorization", "Bearer fresh")]),
                    upstream: "https://api.example.com"
                )
        )
        let free = Self.plan("/free/x", [("Authorization", "Bearer fresh")], budget: budget)
        guard case .forward(_, let direct) = free.action else {
            Issue.record("\(free.action)")
            return
        }
        #expect(direct.proxy == nil && free.budgetKey == nil)
    }
}

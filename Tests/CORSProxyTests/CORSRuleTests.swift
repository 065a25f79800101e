import Foundation
import Testing

@testable import CORSProxy

/// The rule table against the pure policy.
@Suite("CORS rules (pure policy)")
struct CORSRuleTests {
    static func policy(_ corsJSON: String) throws -> CORSPolicy {
        let config = try ProxyConfig.parse(Data(testConfig(upstream: "http://127.0.0.1:1", cors: corsJSON).utf8))
        return CORSPolicy(configuration: config.cors)
    }

    @Test("origins", arguments: CORSRules.origins)
    func origin(_ item: CORSRules.OriginCase) throws {
        let cors = #"{"allowedOrigins": [\#(String(reflecting: item.pattern))]}"#
        let verdict = try Self.policy(cors).judge(origin: item.origin)
        switch verdict {
        case .allowed(let echoed, let rule):
            #expect(item.isAllowed)
            #expect(echoed == item.origin)
            #expect(rule == item.pattern)
        case .refused:
            #expect(!item.isAllowed)
        case .absent:
            Issue.record("an Origin header is never absent")
        }
    }

    @Test("preflights", arguments: CORSRules.preflights)
    func preflight(_ item: CORSRules.PreflightCase) throws {
        let answer = try Self.policy(item.cors).preflight(
            origin: "http://localhost:3000",
            method: item.method,
            requestHeaders: item.headerLines,
            privateNetwork: item.privateNetwork
        )
        if let refusedBy = item.refusedBy {
            #expect(answer.refusal?.contains(refusedBy) == true, "\(String(describing: answer.refusal))")
            #expect(answer.chromeReason == item.chromeReason)
        } else {
            #expect(answer.refusal == nil)
            #expect(answer.chromeReason == nil)
        }
        let privateNetworkGranted = answer.headers.contains { $0.name == "Access-Control-Allow-Private-Network" }
        #expect(privateNetworkGranted == (item.privateNetwork && item.refusedBy == nil))
    }

    @Test("near misses are named", arguments: CORSRules.nearMisses.map { [$0.origin, $0.hint] })
    func nearMiss(_ pair: [String]) throws {
        guard case .refused(_, let hint) = try Self.policy(CORSRules.baseCORS).judge(origin: pair[0]) else {
            Issue.record("\(pair[0]) was not refused")
            return
        }
        #expect(hint?.contains(pair[1]) == true, "\(String(describing: hint))")
    }
}

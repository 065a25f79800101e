import Foundation
import Testing

@testable import CORSProxy

/// `limits.maxConnections` through the running proxy: the connection beyond the limit waits in the kernel's
/// backlog, unrefused, and is served once another closes.
@Suite("Connection limit")
struct ConnectionLimitTests {
    @Test("with max 2, a third connection is not served until one closes, then it is (no error, no reset)")
    func thirdWaits() async throws {
        try await withUpstream { upstream in
            let config = testConfig(upstream: upstream.url, extra: #""limits": {"maxConnections": 2}"#)
            try await withProxy(config) { proxy in
                try await offCooperativePool {
                    var first: KeepAliveClient? = try KeepAliveClient(port: proxy.port)
                    let second = try KeepAliveClient(port: proxy.port)
                    #expect(try first?.get("/status/200").status == 200)
                    #expect(try second.get("/status/200").status == 200)
                    let third = try KeepAliveClient(port: proxy.port)
                    try third.send(KeepAliveClient.request("/status/200"))
                    third.setTimeout(.milliseconds(700))
                    #expect(throws: TestFailure.self, "not served while two are open") { try third.response() }
                    #expect(try second.get("/status/200").status == 200, "the open ones are served meanwhile")
                    first = nil  // closes it
                    third.setTimeout(.seconds(5))
                    let late = try third.response()
                    #expect(late.status == 200)
                    #expect(try third.get("/status/200").status == 200)
                }
            }
        }
    }
}

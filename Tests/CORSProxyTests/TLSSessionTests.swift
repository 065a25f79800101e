import Foundation
import Testing

/// TLS sessions to an https upstream are shared by every curl loop: a new upstream connection resumes the session
/// an earlier one negotiated, whichever loop and easy handle made it.
@Suite("TLS sessions to the upstream")
struct TLSSessionTests {
    /// One request per connection, so that every proxied request needs a new TLS connection.
    static let server = """
        listen 127.0.0.1:PORT ssl;
        ssl_certificate CERT;
        ssl_certificate_key KEY;
        ssl_session_cache shared:corsproxy:1m;
        keepalive_requests 1;
        location / {
            add_header X-Session-Reused $ssl_session_reused always;
            return 200 'ok';
        }
        """

    @Test("after the first full handshake, new upstream connections of every curl loop resume the TLS session")
    func resumed() async throws {
        let nginx = try await Nginx.start(server: Self.server, tls: true)
        defer { nginx.stop() }
        let route = "\"caFile\": \"\(nginx.certificate)\""
        try await withProxy(testConfig(upstream: nginx.url, route: route), curlLoops: 2) { proxy in
            var reused: [String] = []
            // Each request is a new client connection (a new curl process), so they alternate between the
            // event loops and with them between the two curl loops.
            for index in 0..<6 {
                let result = try await http(proxy.url + "/item/\(index)")
                #expect(result.status == 200)
                reused.append(result.header("X-Session-Reused") ?? "?")
            }
            #expect(reused.first == ".", "the first connection has nothing to resume")
            #expect(reused.dropFirst().allSatisfy { $0 == "r" }, "\(reused)")
        }
    }
}

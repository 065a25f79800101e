import CORSProxy
import Foundation
import Testing

/// The README's complete team-gateway config is one `corsproxy` accepts as it stands (with a real certificate
/// pair in place of the example's paths).
@Suite("README team config")
struct ReadmeTeamConfigTests {
    @Test("the complete example under \"Run it for a team\" parses and validates")
    func exampleValidates() async throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.firstRange(of: "## Run it for a team"))
        let start = try #require(text[section.upperBound...].firstRange(of: "```json\n"))
        let end = try #require(text[start.upperBound...].firstRange(of: "```"))
        let ca = try await TestCA.make()
        defer { ca.remove() }
        let leaf = try await ca.issue("gateway", serial: 0x4001)
        let json = String(text[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "/etc/corsproxy/tls/tls.crt", with: leaf.certificate)
            .replacingOccurrences(of: "/etc/corsproxy/tls/tls.key", with: leaf.privateKey)
        let config = try ProxyConfig.parse(Data(json.utf8))
        #expect(config.tls != nil && config.admin != nil && config.log.format == .json)
        #expect(config.routes.map(\.prefix) == ["/oauth/", "/"])
        #expect(config.limits.rateLimit != nil && config.limits.maxConnections == 2000)
        #expect(config.trustedProxies.map(\.source) == ["10.0.0.0/8"])
    }
}

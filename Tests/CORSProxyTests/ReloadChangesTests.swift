import Foundation
import Testing

@testable import CORSProxy

/// What a reload says changed (``ConfigChanges``), and how the reload state machine coalesces triggers.
@Suite("Reload: changes and state machine")
struct ReloadChangesTests {
    static func config(_ json: String) throws -> ProxyConfig {
        try ProxyConfig.parse(Data(json.utf8))
    }

    @Test("origins and routes added and removed, other keys by key path, listen and tls need a restart")
    func changeLines() throws {
        let old = try Self.config(
            """
            {"listen": "127.0.0.1:8787",
             "routes": [{"prefix": "/", "upstream": "https://a.example.com"},
                        {"prefix": "/api", "upstream": "https://api.example.com"}],
             "cors": {"allowedOrigins": ["https://x.example.com"], "maxAge": 600},
             "timeouts": {"idle": 60}}
            """
        )
        let new = try Self.config(
            """
            {"listen": "0.0.0.0:9000",
             "routes": [{"prefix": "/", "upstream": "https://a.example.com", "stripPrefix": true},
                        {"prefix": "/api", "upstream": "https://api2.example.com"}],
             "cors": {"allowedOrigins": ["https://y.example.com"], "maxAge": 60},
             "timeouts": {"idle": 0.5}}
            """
        )
        let changes = ConfigChanges(from: old, to: new)
        #expect(
            changes.applied == [
                "cors.allowedOrigins: added \"https://y.example.com\"",
                "cors.allowedOrigins: removed \"https://x.example.com\"",
                "routes: added /api → https://api2.example.com",
                "routes: removed /api → https://api.example.com",
                "routes[/].stripPrefix: false → true",
                "cors.maxAge: 600 → 60",
                "timeouts.idle: 60 → 0.5",
            ]
        )
        #expect(changes.needsRestart == ["listen: 127.0.0.1:8787 → 0.0.0.0:9000"])
        let applied = ConfigChanges.applying(new, keeping: old)
        #expect(applied.listen == old.listen)
        #expect(applied.cors.maxAge == 60)
    }

    @Test("the admin listener, log.format, timeouts.drain and timeouts.lameDuck need a restart; a reload keeps them")
    func startupOnlyKeys() throws {
        let old = try Self.config(#"{"routes": [{"prefix": "/", "upstream": "https://a.example.com"}]}"#)
        let new = try Self.config(
            #"{"routes": [{"prefix": "/", "upstream": "https://a.example.com"}], "admin": {"listen": "127.0.0.1:9787"}, "log": {"format": "json"}, "timeouts": {"drain": 5, "lameDuck": 1.5}}"#
        )
        let changes = ConfigChanges(from: old, to: new)
        #expect(changes.applied.isEmpty, "\(changes.applied)")
        #expect(
            changes.needsRestart == [
                "admin.listen: off → 127.0.0.1:9787", "log.format: text → json", "timeouts.drain: 25 → 5",
                "timeouts.lameDuck: 0 → 1.5",
            ]
        )
        let applied = ConfigChanges.applying(new, keeping: old)
        #expect(applied.admin == nil && applied.log.format == .text && applied.timeouts.drain == .seconds(25))
        #expect(applied.timeouts.lameDuck == .zero)
    }

    @Test("identical configs: no change")
    func noChange() throws {
        let json = #"{"routes": [{"prefix": "/", "upstream": "https://a.example.com"}]}"#
        #expect(ConfigChanges(from: try Self.config(json), to: try Self.config(json)).isEmpty)
    }

    @Test("state machine: a trigger during a reload asks for one more round; many coalesce into one")
    func coalescing() {
        var machine = ConfigReloader.StateMachine()
        #expect(machine.requested(.fileChange) == .reload)
        #expect(machine.requested(.fileChange) == .waitForNextRound)
        #expect(machine.requested(.signal) == .waitForNextRound)
        #expect(machine.requested(.fileChange) == .waitForNextRound)
        // The explicit trigger wins: the round after reads and reports the file even if it did not change.
        #expect(machine.finished() == .reloadAgain(.signal))
        #expect(!machine.isIdle)
        #expect(machine.finished() == .becomeIdle)
        #expect(machine.isIdle)
        #expect(machine.requested(.request) == .reload)
    }
}

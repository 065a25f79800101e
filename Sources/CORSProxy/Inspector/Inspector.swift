internal import NIOCore
internal import NIOHTTP1

/// The inspector's endpoints, wherever they are served: at ``adminBase`` on the admin listener, or at
/// ``mainPortBase`` on the main port when there is no admin listener and the proxy listens on loopback only.
///
/// Safe by construction: same-origin only (no `Access-Control-*` line on any of its answers), `Host` limited to
/// the listener's own host and the loopback names (a DNS-rebound name gets 421), and a strict
/// `Content-Security-Policy`, so the page runs only its own script and style, served from the binary.
struct Inspector: Sendable {
    static let adminBase = "/inspector"
    static let mainPortBase = "/__corsproxy/inspector"

    /// What a path under the base names.
    enum Target: Equatable {
        case page
        case script
        case style
        case events
        case exchange(id: String)
    }

    /// An answer now, or the event stream (which the server starts: ``InspectorStream``).
    enum Answer {
        case response(ProxyResponse)
        case stream
    }

    let ring: InspectorRing
    /// ``adminBase`` or ``mainPortBase``.
    let base: String
    /// The host names `Host` may carry: the listener's own and the loopback names.
    private let hostNames: Set<String>

    /// - Parameters:
    ///   - ring: The exchanges shown.
    ///   - base: The path the inspector lives at.
    ///   - listen: The listener it is served on; its host is accepted in `Host`.
    init(ring: InspectorRing, base: String, listen: ListenAddress) {
        self.ring = ring
        self.base = base
        self.hostNames = ["localhost", "127.0.0.1", "[::1]", listen.urlHost.lowercased()]
    }

    /// Whether a proxy with `config` serves an inspector anywhere (and so keeps the ring).
    static func isServed(by config: ProxyConfig) -> Bool {
        config.admin != nil || self.isOnMainPort(config)
    }

    /// Whether the main port serves it: no admin listener, and a loopback listen address.
    static func isOnMainPort(_ config: ProxyConfig) -> Bool {
        config.admin == nil && ProxyConfig.isLoopback(config.listen.host)
    }

    /// Whether `path` (without its query) is the inspector's, at `base`.
    static func contains(_ path: Substring, base: String) -> Bool {
        guard ASCII.hasPrefix(path.utf8, base.utf8) else { return false }
        let rest = path.utf8.dropFirst(base.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }

    /// What `path`, one of the inspector's, names; `nil` for nothing.
    func target(_ path: Substring) -> Target? {
        let rest = path.dropFirst(self.base.count)
        switch rest {
        case "", "/": return .page
        case "/app.js": return .script
        case "/app.css": return .style
        case "/events": return .events
        default:
            let prefix = "/exchanges/"
            guard rest.hasPrefix(prefix) else { return nil }
            let id = rest.dropFirst(prefix.count)
            // A request id: hex digits, a dash, decimal digits.
            guard !id.isEmpty, id.utf8.allSatisfy({ ASCII.hexValue($0) != nil || $0 == UInt8(ascii: "-") }) else {
                return nil
            }
            return .exchange(id: String(id))
        }
    }

    /// The answer to `head`, whose path is one of the inspector's.
    func answer(_ head: HTTPRequestHead) -> Answer {
        let hosts = head.headers["host"]
        guard hosts.count == 1, let name = ConfigSnapshot.hostName(hosts[0]), self.hostNames.contains(name) else {
            return .response(
                self.error(.misdirectedRequest, "host_not_allowed", "the inspector answers only its own host names")
            )
        }
        let path = RequestTarget(head.uri).path
        guard let target = self.target(path) else {
            return .response(self.error(.notFound, "not_found", "no such inspector path"))
        }
        guard head.method == .GET || head.method == .HEAD else {
            var response = self.error(.methodNotAllowed, "method_not_allowed", "the inspector answers GET and HEAD")
            response.headers.append(("Allow", "GET, HEAD"))
            return .response(response)
        }
        switch target {
        case .page:
            return .response(self.content("text/html; charset=utf-8", InspectorPage.html(base: self.base)))
        case .script:
            return .response(self.content("text/javascript; charset=utf-8", InspectorPage.script))
        case .style:
            return .response(self.content("text/css; charset=utf-8", InspectorPage.style))
        case .events:
            return .stream
        case .exchange(let id):
            guard let entry = self.ring.entry(id: id) else {
                return .response(self.error(.notFound, "unknown_exchange", "no exchange \(id) in the inspector's ring"))
            }
            var response = ProxyResponse(status: .ok, headers: Self.headers, body: InspectorDetail.json(entry))
            response.headers.append(("Content-Type", "application/json"))
            return .response(response)
        }
    }

    /// The head of the event stream's response, without framing.
    static var streamHeaders: [(name: String, value: String)] {
        Self.headers + [("Content-Type", "text/event-stream; charset=utf-8")]
    }

    /// The headers of every inspector answer.
    static let headers: [(name: String, value: String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
                + "base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
        ("X-Frame-Options", "DENY"),
    ]

    private func content(_ type: String, _ text: String) -> ProxyResponse {
        ProxyResponse(status: .ok, headers: Self.headers + [("Content-Type", type)], body: ByteBuffer(string: text))
    }

    private func error(_ status: HTTPResponseStatus, _ code: String, _ message: String) -> ProxyResponse {
        ProxyResponse(
            status: status,
            headers: Self.headers + [("Content-Type", "application/json")],
            body: JSONBody.encode(["error": code, "message": message])
        )
    }
}

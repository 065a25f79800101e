internal import FoundationEssentials

/// The example SPA (`Examples/implicit-grant-spa/`), compiled into the binary, as `corsproxy demo` serves it:
/// `index.html` gets one more script, before `app.js`, that points its `SPA_CONFIG` at the demo's proxy and
/// stand-in, so the page needs no query parameters. `Resources/` holds symbolic links to the example's files,
/// which SwiftPM embeds as byte arrays (`PackageResources`): the example stays the one copy.
public struct SPASite: Sendable {
    /// What the page is pointed at.
    public struct Settings: Sendable {
        /// The API base URL: the proxy.
        public var api: String
        /// Where `/oauth/authorize` is: the proxy (its `/oauth/` route) or the login host.
        public var login: String
        public var clientID: String
        /// Projects per page; a small one shows the `Link` pagination at work.
        public var perPage: Int

        /// - Parameters:
        ///   - api: The API base URL: the proxy.
        ///   - login: Where `/oauth/authorize` is.
        ///   - clientID: The client ID the login host accepts.
        ///   - perPage: Projects per page.
        public init(api: String, login: String, clientID: String, perPage: Int) {
            self.api = api
            self.login = login
            self.clientID = clientID
            self.perPage = perPage
        }
    }

    /// `index.html` no longer loads `app.js` the way ``SPASite`` expects.
    public struct MissingScript: Error, CustomStringConvertible {
        public var description: String {
            "Examples/implicit-grant-spa/index.html has no \(SPASite.marker): the demo cannot configure the page"
        }
    }

    /// One file of the site.
    public struct File: Sendable {
        public var contentType: String
        public var body: [UInt8]
    }

    static let marker = #"<script src="app.js""#

    private let index: [UInt8]

    /// - Parameter settings: What the page is pointed at.
    /// - Throws: ``MissingScript`` when `index.html` has no `<script src="app.js"`.
    public init(settings: Settings) throws {
        let html = String(decoding: PackageResources.index_html, as: UTF8.self)
        guard let script = html.firstRange(of: Self.marker) else { throw MissingScript() }
        let overrides = [
            "api": settings.api, "login": settings.login, "client_id": settings.clientID,
            "per_page": String(settings.perPage),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(overrides), as: UTF8.self).replacing("</", with: #"<\/"#)
        let injected = "<script>Object.assign(window.SPA_CONFIG, \(json)); // set by corsproxy demo</script>\n  "
        self.index = Array((html[..<script.lowerBound] + injected + html[script.lowerBound...]).utf8)
    }

    /// The file at `path` (`/`, `/index.html`, `/app.js`); `nil` for anything else.
    public func file(at path: String) -> File? {
        switch path {
        case "/", "/index.html": File(contentType: "text/html; charset=utf-8", body: self.index)
        case "/app.js": File(contentType: "text/javascript; charset=utf-8", body: PackageResources.app_js)
        default: nil
        }
    }
}

internal import FoundationEssentials

/// The stand-in's answers, with the headers every Procore answer carries.
enum StandInAnswer {
    /// Procore's `Cache-Control` on API answers (seen in its pagination docs).
    static let cacheControl = (name: "Cache-Control", value: "no-store, must-revalidate, private, max-age=0")

    /// A JSON body; `headers` come after `Content-Type` and `Cache-Control`.
    static func json(
        _ status: Int,
        _ payload: some Encodable,
        headers: [(name: String, value: String)] = []
    ) -> LocalHTTPServer.Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(payload)).map { Array($0) } ?? Array("null".utf8)
        return LocalHTTPServer.Response(
            status: status,
            headers: [(name: "Content-Type", value: "application/json; charset=utf-8"), self.cacheControl] + headers,
            body: body
        )
    }

    /// No body (a redirect, a preflight's empty 200).
    static func empty(_ status: Int, headers: [(name: String, value: String)] = []) -> LocalHTTPServer.Response {
        LocalHTTPServer.Response(status: status, headers: [self.cacheControl] + headers)
    }

    /// 401 as Doorkeeper (Procore's OAuth server) sends it.
    static func unauthorized(headers: [(name: String, value: String)] = []) -> LocalHTTPServer.Response {
        let challenge =
            #"Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid""#
        return self.json(
            401,
            ["errors": "401 Unauthorized", "message": "The access token is invalid"],
            headers: headers + [(name: "WWW-Authenticate", value: challenge)]
        )
    }

    /// 404 in Rails' words.
    static func noRoute(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        self.json(404, ["errors": "No route matches [\(request.method)] \"\(request.path)\""])
    }
}

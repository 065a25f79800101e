internal import NIOConcurrencyHelpers

extension ProcoreStandIn {
    /// `GET /oauth/token/info`'s body.
    private struct TokenInfo: Encodable {
        struct Application: Encodable { var uid: String }

        var resourceOwnerID: Int
        var scope: [String] = []
        var expiresIn: Int
        var application: Application
        var createdAt: Int

        enum CodingKeys: String, CodingKey {
            case scope, application
            case resourceOwnerID = "resource_owner_id"
            case expiresIn = "expires_in"
            case createdAt = "created_at"
        }
    }

    /// The login host (real: `https://login-sandbox.procore.com`).
    func answerLogin(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        switch (request.method, request.path) {
        case ("OPTIONS", _):
            // Not whitelisted: an empty 200 without Access-Control-* headers, which a browser takes as a refusal.
            StandInAnswer.empty(200)
        case ("GET", "/oauth/authorize"):
            self.authorize(request)
        case ("GET", "/oauth/token/info"):
            self.tokenInfo(request)
        default:
            StandInAnswer.noRoute(request)
        }
    }

    /// The implicit grant, as Procore's old implicit-grant page described it: no login form (the user is taken
    /// to be signed in), straight back to `redirect_uri` with the token in the fragment.
    private func authorize(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let query = request.query
        guard query["client_id"] == self.clientID else {
            return StandInAnswer.json(
                401,
                [
                    "error": "invalid_client",
                    "error_description":
                        "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
                ]
            )
        }
        let redirectURI = query["redirect_uri"] ?? ""
        guard redirectURI.hasPrefix("http://") || redirectURI.hasPrefix("https://") else {
            return StandInAnswer.json(
                400,
                ["error": "invalid_redirect_uri", "error_description": "The redirect uri included is not valid."]
            )
        }
        var fragment: [(name: String, value: String)]
        if query["response_type"] == "token" {
            let token = self.tokens.withLockedValue {
                $0.issue(clientID: self.clientID, limit: self.tokenLimit, now: self.now())
            }
            fragment = [
                (name: "access_token", value: token), (name: "token_type", value: "bearer"),
                (name: "expires_in", value: String(StandInTokens.lifetime)),
            ]
        } else {
            fragment = [
                (name: "error", value: "unsupported_response_type"),
                (name: "error_description", value: "The authorization server does not support this response type."),
            ]
        }
        if let state = query["state"] { fragment.append((name: "state", value: state)) }
        let base = redirectURI.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return StandInAnswer.empty(302, headers: [(name: "Location", value: "\(base)#\(FormCoding.encode(fragment))")])
    }

    private func tokenInfo(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let now = self.now()
        guard
            let token = self.tokens.withLockedValue({
                $0.token(authorization: request.header("Authorization"), now: now)
            })
        else { return StandInAnswer.unauthorized() }
        return StandInAnswer.json(
            200,
            TokenInfo(
                resourceOwnerID: StandInFixtures.user.id,
                expiresIn: token.createdAt + StandInTokens.lifetime - now,
                application: .init(uid: token.clientID),
                createdAt: token.createdAt
            )
        )
    }
}

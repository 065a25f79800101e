internal import NIOConcurrencyHelpers

extension ProcoreStandIn {
    private typealias Headers = [(name: String, value: String)]

    /// The API host (real: `https://sandbox.procore.com`): every `/rest/v1.0/…` answer carries `X-Request-Id`; a
    /// valid bearer token's answers carry `X-Rate-Limit-Limit`, `-Remaining` and `-Reset`.
    func answerAPI(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        if request.method == "OPTIONS" { return StandInAnswer.empty(200) }
        guard request.path.hasPrefix("/rest/v1.0/") else { return StandInAnswer.noRoute(request) }
        let resource = request.path.dropFirst("/rest/v1.0/".count)
        let now = self.now()
        let (spend, requestID) = self.tokens.withLockedValue { tokens in
            (tokens.spend(authorization: request.header("Authorization"), now: now), tokens.nextRequestID())
        }
        var headers: Headers = [(name: "X-Request-Id", value: requestID)]
        switch spend {
        case .invalid:
            return StandInAnswer.unauthorized(headers: headers)
        case .exhausted(let limit, let reset):
            headers += Self.rateHeaders(limit: limit, remaining: 0, reset: reset)
            headers.append((name: "Retry-After", value: String(max(1, reset - now))))
            return StandInAnswer.json(
                429,
                ["errors": "Too Many Requests", "message": "Rate limit exceeded; retry after X-Rate-Limit-Reset"],
                headers: headers
            )
        case .allowed(let limit, let remaining, let reset):
            headers += Self.rateHeaders(limit: limit, remaining: remaining, reset: reset)
        }
        switch (request.method, resource) {
        case ("GET", "me"):
            return StandInAnswer.json(200, StandInFixtures.user, headers: headers)
        case ("GET", "companies"):
            return StandInAnswer.json(200, [StandInFixtures.company], headers: headers)
        case ("GET", "projects"):
            if let refusal = Self.companyRefusal(request, headers: headers) { return refusal }
            return self.listProjects(request, headers: headers)
        case ("GET", _) where resource.hasPrefix("projects/"):
            if let refusal = Self.companyRefusal(request, headers: headers) { return refusal }
            let id = Int(resource.dropFirst("projects/".count))
            guard let project = StandInFixtures.projects.first(where: { $0.id == id }) else {
                return StandInAnswer.json(404, ["errors": "Not Found"], headers: headers)
            }
            return StandInAnswer.json(200, project, headers: headers)
        default:
            return StandInAnswer.json(404, ["errors": "Not Found"], headers: headers)
        }
    }

    private static func rateHeaders(limit: Int, remaining: Int, reset: Int) -> Headers {
        [
            (name: "X-Rate-Limit-Limit", value: String(limit)),
            (name: "X-Rate-Limit-Remaining", value: String(remaining)),
            (name: "X-Rate-Limit-Reset", value: String(reset)),
        ]
    }

    /// Procore wants `Procore-Company-Id` on every call but `/me` and `/companies`: 400 without it, 403 for a
    /// company the app is not connected to (or a `company_id` query parameter that disagrees with it).
    private static func companyRefusal(
        _ request: LocalHTTPServer.Request,
        headers: Headers
    ) -> LocalHTTPServer.Response? {
        guard let company = request.header("Procore-Company-Id"), !company.isEmpty else {
            return StandInAnswer.json(
                400,
                [
                    "errors":
                        "Missing Procore-Company-Id header! All requests to this endpoint require the Procore-Company-Id header."
                ],
                headers: headers
            )
        }
        guard company == String(StandInFixtures.company.id), (request.query["company_id"] ?? company) == company else {
            return StandInAnswer.json(403, ["errors": "App is not connected to this company"], headers: headers)
        }
        return nil
    }

    /// `page` (from 1) and `per_page` (1…2000, default 100), with `Total`, `Per-Page` and a `Link` of absolute
    /// URLs on the API host's own base URL, as Procore's pagination docs show.
    private func listProjects(_ request: LocalHTTPServer.Request, headers: Headers) -> LocalHTTPServer.Response {
        guard let askedPage = Int(request.query["page"] ?? "1"),
            let askedPerPage = Int(request.query["per_page"] ?? "100")
        else {
            return StandInAnswer.json(400, ["errors": "page and per_page must be integers"], headers: headers)
        }
        let page = max(1, askedPage)
        let perPage = min(2000, max(1, askedPerPage))
        let projects = StandInFixtures.projects
        let last = max(1, (projects.count + perPage - 1) / perPage)
        let base = self.apiBase.withLockedValue { $0 }
        var links: [String] = []
        for (rel, number) in [("first", 1), ("prev", page - 1), ("next", page &+ 1), ("last", last)]
        where (1...last).contains(number) && (rel == "first" || rel == "last" || number != page) {
            var items = request.queryItems.filter { $0.name != "page" && $0.name != "per_page" }
            items += [(name: "page", value: String(number)), (name: "per_page", value: String(perPage))]
            links.append("<\(base)/rest/v1.0/projects?\(FormCoding.encode(items))>; rel=\"\(rel)\"")
        }
        var answerHeaders =
            headers + [(name: "Total", value: String(projects.count)), (name: "Per-Page", value: String(perPage))]
        if !links.isEmpty { answerHeaders.append((name: "Link", value: links.joined(separator: ", "))) }
        let start = page > last ? projects.count : (page - 1) * perPage
        let slice = Array(projects[start..<min(projects.count, start + perPage)])
        return StandInAnswer.json(200, slice, headers: answerHeaders)
    }
}

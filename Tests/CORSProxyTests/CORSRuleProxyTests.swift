import Foundation
import Testing

/// The rule table through the running proxy: what a browser would get on the wire.
@Suite("CORS rules (through the proxy)")
struct CORSRuleProxyTests {
    /// curl sends `Origin;` for an empty value (`Origin:` would remove the header).
    static func originHeader(_ origin: String) -> String {
        origin.isEmpty ? "Origin;" : "Origin: \(origin)"
    }

    @Test(
        "origins",
        arguments: Dictionary(grouping: CORSRules.origins, by: \.pattern).sorted { $0.key < $1.key }.map(\.value)
    )
    func origins(_ cases: [CORSRules.OriginCase]) async throws {
        let pattern = cases[0].pattern
        let cors = #"{"allowedOrigins": [\#(String(reflecting: pattern))]}"#
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url, cors: cors)) { proxy in
                for item in cases {
                    let result = try await http(proxy.url + "/echo", headers: [Self.originHeader(item.origin)])
                    if item.isAllowed {
                        #expect(result.status == 200, "\(item.testDescription)")
                        #expect(result.header("Access-Control-Allow-Origin") == item.origin, "\(item.testDescription)")
                    } else {
                        #expect(result.status == 403, "\(item.testDescription)")
                        #expect(result.header("Access-Control-Allow-Origin") == nil, "\(item.testDescription)")
                    }
                }
                #expect(
                    upstream.requests.count == cases.filter(\.isAllowed).count,
                    "refused origins never reach the upstream"
                )
            }
        }
    }

    @Test("preflights", arguments: CORSRules.preflights)
    func preflight(_ item: CORSRules.PreflightCase) async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url, cors: item.cors)) { proxy in
                var headers = ["Origin: http://localhost:3000", "Access-Control-Request-Method: \(item.method)"]
                headers += item.headerLines.map { "Access-Control-Request-Headers: \($0)" }
                if item.privateNetwork { headers.append("Access-Control-Request-Private-Network: true") }
                let result = try await http(proxy.url + "/rest/v1.0/projects", method: "OPTIONS", headers: headers)
                #expect(result.status == 204)
                #expect(upstream.requests.isEmpty, "a preflight never reaches the upstream")
                let allowedMethods = (result.header("Access-Control-Allow-Methods") ?? "").split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                let allowedHeaders = (result.header("Access-Control-Allow-Headers") ?? "").split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespaces).lowercased()
                }
                let credentials = result.header("Access-Control-Allow-Credentials") == "true"
                // Judge the answer as Fetch does (CORS-preflight fetch, steps 7.x).
                let methodOK =
                    ["GET", "HEAD", "POST"].contains(item.method) || allowedMethods.contains(item.method)
                    || (!credentials && allowedMethods.contains("*"))
                let requested = item.headerLines.flatMap { $0.split(separator: ",") }.map {
                    $0.trimmingCharacters(in: .whitespaces).lowercased()
                }.filter { !$0.isEmpty }
                let headersOK = requested.allSatisfy { name in
                    allowedHeaders.contains(name)
                        || (!credentials && allowedHeaders.contains("*") && name != "authorization")
                }
                let privateNetworkOK =
                    !item.privateNetwork || result.header("Access-Control-Allow-Private-Network") == "true"
                let browserAccepts =
                    result.header("Access-Control-Allow-Origin") == "http://localhost:3000" && methodOK && headersOK
                    && privateNetworkOK
                #expect(browserAccepts == (item.refusedBy == nil))
                let line = try await proxy.logLine(containing: " corsRequest=preflight")
                if let reason = item.chromeReason {
                    // Chromium prints the preflight stage, except for a method or header the answer does not list.
                    let isListCheck = reason.hasPrefix("Method ") || reason.hasPrefix("Request header field ")
                    let stage = isListCheck ? "" : "Response to preflight request doesn't pass access control check: "
                    #expect(line.contains("has been blocked by CORS policy: \(stage)\(reason)"), "\(line)")
                } else {
                    #expect(!line.contains("chrome="), "\(line)")
                }
            }
        }
    }

    @Test("responses", arguments: CORSRules.responses)
    func response(_ item: CORSRules.ResponseCase) async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url, cors: item.cors)) { proxy in
                let result = try await http(proxy.url + item.path, method: item.method, headers: item.headers)
                #expect(result.status == item.status)
                for (name, value) in item.expect {
                    #expect(result.headers(name) == (value.map { [$0] } ?? []), "\(name)")
                }
                if let isForwarded = item.isForwarded {
                    #expect(upstream.requests.isEmpty == !isForwarded)
                }
            }
        }
    }

    @Test(
        "the log names the near miss of a refused origin",
        arguments: CORSRules.nearMisses.map { [$0.origin, $0.hint] }
    )
    func nearMiss(_ pair: [String]) async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url, cors: CORSRules.baseCORS)) { proxy in
                let result = try await http(proxy.url + "/echo", headers: ["Origin: \(pair[0])"])
                #expect(result.status == 403)
                let line = try await proxy.logLine()
                #expect(line.contains(" hint=") && line.contains(pair[1]), "\(line)")
                #expect(line.contains("cors=refused"))
            }
        }
    }
}

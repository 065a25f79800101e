import Foundation
import Testing

/// How the proxy frames the responses it relays, seen as raw bytes on one kept-alive connection: a framing
/// mistake shows up as a body that swallows, or leaves behind, bytes of the next response.
@Suite("Response framing")
struct ResponseFramingTests {
    struct Response {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: String

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// Splits what came back into responses, framing each as a client would for the request `methods` in order.
    /// Works on bytes (a `Character` would join the CR and LF of a line end). Fails when bytes are left over or
    /// missing.
    static func parse(_ text: String, methods: [String]) throws -> [Response] {
        var rest = Array(text.utf8)[...]
        func take(_ count: Int) -> String {
            defer { rest = rest.dropFirst(count) }
            return String(decoding: rest.prefix(count), as: UTF8.self)
        }
        func line() throws -> String {
            guard
                let end = rest.indices.first(where: {
                    rest[$0] == 13 && rest.index(after: $0) < rest.endIndex && rest[$0 + 1] == 10
                })
            else {
                throw TestFailure("no line end in \(String(decoding: rest.prefix(60), as: UTF8.self).debugDescription)")
            }
            defer { rest = rest[(end + 2)...] }
            return String(decoding: rest[..<end], as: UTF8.self)
        }
        var responses: [Response] = []
        for method in methods {
            let statusLine = try line().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                throw TestFailure("bad status line \(statusLine)")
            }
            var headers: [(name: String, value: String)] = []
            while true {
                let header = try line()
                if header.isEmpty { break }
                guard let colon = header.firstIndex(of: ":") else { throw TestFailure("bad header line \(header)") }
                headers.append(
                    (
                        String(header[..<colon]),
                        header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    )
                )
            }
            var response = Response(status: status, headers: headers, body: "")
            if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
                // No body, whatever the headers say.
            } else if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
                while true {
                    let sizeLine = try line()
                    guard let size = Int(sizeLine, radix: 16) else {
                        throw TestFailure("bad chunk size line \(sizeLine.debugDescription)")
                    }
                    if size == 0 {
                        guard try line().isEmpty else { throw TestFailure("trailers after the last chunk") }
                        break
                    }
                    guard rest.count >= size + 2 else { throw TestFailure("chunk shorter than \(size)") }
                    response.body += take(size)
                    guard try line().isEmpty else { throw TestFailure("no CRLF after a chunk") }
                }
            } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
                guard rest.count >= length else { throw TestFailure("body shorter than Content-Length \(length)") }
                response.body = take(length)
            } else {
                response.body = take(rest.count)
            }
            responses.append(response)
        }
        guard rest.isEmpty else {
            throw TestFailure(
                "bytes after the last response: \(String(decoding: rest.prefix(80), as: UTF8.self).debugDescription)"
            )
        }
        return responses
    }

    static let origin = "http://localhost:3000"

    /// Sends `requests` pipelined on one connection (the last one closes it) and parses the answers.
    static func exchange(
        _ proxy: RunningProxy,
        _ requests: [(method: String, target: String)],
        version: String = "HTTP/1.1"
    ) async throws -> [Response] {
        let text = requests.enumerated().map { index, request in
            let last = index == requests.count - 1
            return "\(request.method) \(request.target) \(version)\r\nHost: 127.0.0.1\r\nOrigin: \(Self.origin)\r\n"
                + (last ? "Connection: close\r\n" : (version == "HTTP/1.0" ? "Connection: keep-alive\r\n" : ""))
                + "\r\n"
        }.joined()
        let answer = try await rawExchange(port: proxy.port, text)
        return try Self.parse(answer, methods: requests.map(\.method))
    }

    @Test("an upstream body without Content-Length reaches an HTTP/1.1 client chunked, and the connection goes on")
    func chunked() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let responses = try await Self.exchange(proxy, [("GET", "/unframed?parts=3"), ("GET", "/headers")])
                #expect(responses.count == 2)
                #expect(responses[0].status == 200)
                #expect(responses[0].header("Transfer-Encoding") == "chunked")
                #expect(responses[0].header("Content-Length") == nil)
                #expect(responses[0].header("Access-Control-Allow-Origin") == Self.origin)
                #expect(responses[0].body == "part 0\npart 1\npart 2\n")
                #expect(responses[1].status == 200)
                #expect(responses[1].body == "headers")
            }
        }
    }

    @Test("HEAD, 204 and 304 carry no body: the next response on the connection follows at once")
    func noBody() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let responses = try await Self.exchange(
                    proxy,
                    [("HEAD", "/bytes/1234"), ("GET", "/no-content"), ("GET", "/not-modified"), ("GET", "/headers")]
                )
                #expect(responses.map(\.status) == [200, 204, 304, 200])
                #expect(responses[0].header("Content-Length") == "1234", "HEAD keeps the length of what GET would send")
                #expect(responses[1].header("X-Upstream") == "204")
                #expect(responses[2].header("ETag") == "\"v1\"")
                for response in responses[1...2] {
                    #expect(response.header("Transfer-Encoding") == nil)
                    #expect(response.header("Access-Control-Allow-Origin") == Self.origin)
                }
                #expect(responses[3].body == "headers")
            }
        }
    }

    @Test("a HEAD answer without Content-Length carries no body, not even a chunk terminator")
    func headWithoutLength() async throws {
        // Answers every request (curl asks HEAD) with a head and no length, then closes.
        try await withRawUpstream(answer: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n") { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let responses = try await Self.exchange(proxy, [("HEAD", "/a"), ("HEAD", "/b")])
                #expect(responses.map(\.status) == [200, 200])
            }
        }
    }

    @Test(
        "HTTP/1.0: keep-alive is announced when asked for; a body of unknown length ends with the connection, even when asked to keep it"
    )
    func http10() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let kept = try await Self.exchange(
                    proxy,
                    [("GET", "/headers"), ("GET", "/headers")],
                    version: "HTTP/1.0"
                )
                #expect(kept.map(\.status) == [200, 200])
                #expect(kept[0].header("Connection")?.lowercased() == "keep-alive")
                #expect(kept[0].header("Content-Length") == "7")
                #expect(kept.map(\.body) == ["headers", "headers"])
                let unframed = try await Self.exchange(proxy, [("GET", "/unframed?parts=2")], version: "HTTP/1.0")
                #expect(unframed.first?.header("Transfer-Encoding") == nil, "HTTP/1.0 has no chunked coding")
                #expect(unframed.first?.body == "part 0\npart 1\n")
                // Asked to keep the connection, the proxy still closes it: only the close ends such a body.
                let text = try await rawExchange(
                    port: proxy.port,
                    "GET /unframed?parts=2 HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
                        + "GET /headers HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
                )
                let closed = try Self.parse(text, methods: ["GET"])
                #expect(closed.first?.header("Connection") == nil)
                #expect(closed.first?.body == "part 0\npart 1\n", "the second request is never answered")
            }
        }
    }
}

internal import Foundation
internal import NIOCore
internal import NIOHTTP1

/// The proxy's own answers (refusals, upstream faults): a status, a JSON body and the CORS headers the request
/// earned, so JavaScript can read the error instead of seeing "Failed to fetch".
struct ProxyResponse {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// The `error` of a JSON error body, for the log line.
    var errorKind: String?

    /// A JSON error body: `{"error": kind, "message": …, …details}`.
    static func json(_ status: HTTPResponseStatus, error kind: String, message: String, details: [String: Any] = [:])
        -> ProxyResponse
    {
        var object = details
        object["error"] = kind
        object["message"] = message
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Cache-Control", value: "no-store")
        return ProxyResponse(status: status, headers: headers, body: ByteBuffer(bytes: data + Data("\n".utf8)), errorKind: kind)
    }

    static func text(_ status: HTTPResponseStatus, _ text: String) -> ProxyResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-store")
        return ProxyResponse(status: status, headers: headers, body: ByteBuffer(string: text))
    }

    static func empty(_ status: HTTPResponseStatus) -> ProxyResponse {
        ProxyResponse(status: status, headers: HTTPHeaders(), body: ByteBuffer())
    }
}

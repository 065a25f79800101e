extension LocalHTTPServer {
    /// One whole request as it arrived.
    public struct Request: Sendable {
        public var method: String
        /// The path, percent-encoded as sent, without the query.
        public var path: String
        /// The query's parameters, decoded; the last of a repeated name wins.
        public var query: [String: String]
        /// The query's parameters in the order sent, decoded.
        public var queryItems: [(name: String, value: String)]
        /// Header lines in the order sent.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// - Parameters:
        ///   - method: The request method, e.g. `GET`.
        ///   - target: The request target: path and optional query.
        ///   - headers: Header lines in order.
        ///   - body: The whole body.
        public init(method: String, target: String, headers: [(name: String, value: String)], body: [UInt8] = []) {
            self.method = method
            let (path, query) = FormCoding.split(target: target)
            self.path = path
            self.queryItems = FormCoding.decode(query)
            self.query = Dictionary(self.queryItems.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            self.headers = headers
            self.body = body
        }

        /// The first value of the header `name` (compared case-insensitively), if any.
        public func header(_ name: String) -> String? {
            let wanted = name.lowercased()
            return self.headers.first { $0.name.lowercased() == wanted }?.value
        }
    }

    /// The whole answer to one request. `Content-Length` is added when it is written.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// - Parameters:
        ///   - status: The status code.
        ///   - headers: Header lines, without `Content-Length`.
        ///   - body: The body (not sent in answer to `HEAD`).
        public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }
}

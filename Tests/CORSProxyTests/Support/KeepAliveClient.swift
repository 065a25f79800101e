import Foundation

/// One keep-alive HTTP/1.1 connection to 127.0.0.1, blocking: requests written as text, responses read by their
/// `Content-Length` (the proxy's own answers and TestUpstream's `/status` and `/echo` have one). For tests that
/// send many requests quickly (a process per request would measure process start-up) and for pipelining.
/// Blocking: call it from ``offCooperativePool(_:)``.
final class KeepAliveClient {
    struct Response {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: String

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    private let fd: Int32
    /// Received bytes; those before `start` are consumed (dropped in bulk, so that pipelined reads stay linear).
    private var buffer: [UInt8] = []
    private var start = 0
    /// The bytes of the last response ``response()`` read, head and body.
    private(set) var lastResponseLength = 0

    /// Connects; with a kernel backlog the connect succeeds even before the server accepts.
    init(port: Int, timeout: Duration = .seconds(10)) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.fd >= 0 else { throw TestFailure("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(self.fd)
            throw TestFailure("connect() failed")
        }
        var one: Int32 = 1
        setsockopt(self.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.setTimeout(timeout)
    }

    deinit {
        Glibc.close(self.fd)
    }

    /// How long a read waits before ``response()`` fails.
    func setTimeout(_ timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw TestFailure("send() failed") }
            bytes = bytes.dropFirst(n)
        }
    }

    /// A GET with these extra header lines (`Name: value`).
    func get(_ path: String, headers: [String] = [], method: String = "GET") throws -> Response {
        try self.send(Self.request(path, headers: headers, method: method))
        return try self.response()
    }

    static func request(_ path: String, headers: [String] = [], method: String = "GET") -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers.map { "\($0)\r\n" }.joined() + "\r\n"
    }

    /// Reads the next response; throws when the read times out or the connection closes first.
    func response() throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            headEnd = self.find(separator)
            if headEnd == nil { try self.fill() }
        }
        let head = String(decoding: self.buffer[self.start..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let status = Int(statusLine.split(separator: " ")[1]) ?? 0
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = Int(headers.first { $0.name.lowercased() == "content-length" }?.value ?? "0") ?? 0
        let bodyStart = headEnd! + 4
        while self.buffer.count < bodyStart + length { try self.fill() }
        self.lastResponseLength = bodyStart + length - self.start
        let body = String(decoding: self.buffer[bodyStart..<bodyStart + length], as: UTF8.self)
        self.start = bodyStart + length
        if self.start > 65536 {
            self.buffer.removeFirst(self.start)
            self.start = 0
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// The next `count` bytes, whatever they hold.
    func read(exactly count: Int) throws -> ArraySlice<UInt8> {
        while self.buffer.count - self.start < count { try self.fill() }
        let bytes = self.buffer[self.start..<self.start + count]
        self.start += count
        if self.start > 65536 {
            self.buffer.removeFirst(self.start)
            self.start = 0
        }
        return bytes
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard self.buffer.count - self.start >= pattern.count else { return nil }
        for index in self.start...(self.buffer.count - pattern.count)
        where self.buffer[index] == pattern[0] && Array(self.buffer[index..<index + pattern.count]) == pattern {
            return index
        }
        return nil
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw TestFailure(n == 0 ? "connection closed" : "read timed out") }
        self.buffer += chunk[0..<n]
    }
}

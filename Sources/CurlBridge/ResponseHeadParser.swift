internal import NIOCore

/// Builds the final response head from libcurl's header callback, which delivers one raw line per call.
///
/// A new status line starts over (libcurl reports `100 Continue` and other interim heads before the final one);
/// a line starting with whitespace continues the previous header (obsolete line folding, RFC 9112 §5.2);
/// lines after the head is complete (trailers) are ignored. The lines are scanned and kept as bytes, in one
/// buffer per head: this runs once per upstream header line, on the curl thread, for every request.
///
/// A header whose name is not a token, or whose value holds a CR or NUL, is dropped: libcurl splits lines at LF
/// only, and such bytes must never reach the client (response splitting); the server side does not validate
/// the headers again.
struct ResponseHeadParser {
    private var status = 0
    private var reason = ""
    private var lines = ByteBuffer()
    private var fields: [TransferResponseHead.Field] = []
    private(set) var isComplete = false

    /// Feeds one header line, CRLF included.
    /// - Returns: The head, when `line` was the blank line that ends the final head.
    mutating func feed(_ line: UnsafeRawBufferPointer) -> TransferResponseHead? {
        guard !self.isComplete else { return nil }
        var end = line.count
        while end > 0, line[end - 1] == UInt8(ascii: "\n") || line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return self.feed(bytes: UnsafeRawBufferPointer(rebasing: line[0..<end]))
    }

    private mutating func feed(bytes line: UnsafeRawBufferPointer) -> TransferResponseHead? {
        guard !self.isComplete else { return nil }
        guard let first = line.first else { return self.finishHead() }
        if line.starts(with: "HTTP/".utf8) {
            self.startHead(statusLine: line)
            return nil
        }
        if Self.isOWS(first) {
            let continuation = Self.trimmingOWS(line[...])
            if let last = self.fields.indices.last, Self.isFieldText(continuation) {
                // The value ends the buffer, before its CRLF: the continuation goes in its place.
                self.lines.moveWriterIndex(to: self.fields[last].value.upperBound)
                self.lines.writeInteger(UInt8(ascii: " "))
                self.lines.writeBytes(UnsafeRawBufferPointer(rebasing: continuation))
                self.fields[last].value = self.fields[last].value.lowerBound..<self.lines.writerIndex
                self.lines.writeStaticString("\r\n")
            }
            return nil
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
            line[..<colon].allSatisfy(Self.isTokenCharacter)
        else { return nil }
        let value = Self.trimmingOWS(line[(colon + 1)...])
        guard Self.isFieldText(value) else { return nil }
        if self.lines.capacity == 0 { self.lines.reserveCapacity(1024) }
        let nameStart = self.lines.writerIndex
        self.lines.writeBytes(UnsafeRawBufferPointer(rebasing: line[..<colon]))
        let nameEnd = self.lines.writerIndex
        self.lines.writeStaticString(": ")
        let valueStart = self.lines.writerIndex
        self.lines.writeBytes(UnsafeRawBufferPointer(rebasing: value))
        self.fields.append(.init(name: nameStart..<nameEnd, value: valueStart..<self.lines.writerIndex))
        self.lines.writeStaticString("\r\n")
        return nil
    }

    /// `HTTP/1.1 200 OK`: the status code and the reason phrase.
    private mutating func startHead(statusLine line: UnsafeRawBufferPointer) {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
        self.status = 0
        if fields.count > 1, fields[1].count == 3, fields[1].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            self.status = fields[1].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        self.reason = fields.count > 2 && Self.isFieldText(fields[2])
            ? String(decoding: UnsafeRawBufferPointer(rebasing: fields[2]), as: UTF8.self) : ""
        self.lines.clear()
        self.fields.removeAll()
    }

    private mutating func finishHead() -> TransferResponseHead? {
        guard self.status != 0 else { return nil }
        if (100..<200).contains(self.status) && self.status != 101 {
            self = ResponseHeadParser()
            return nil
        }
        self.isComplete = true
        return TransferResponseHead(status: self.status, reason: self.reason, lines: self.lines, fields: self.fields)
    }

    private static func isOWS(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// RFC 9110 §5.6.2 `tchar`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func trimmingOWS(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var bytes = bytes
        while let first = bytes.first, Self.isOWS(first) { bytes.removeFirst() }
        while let last = bytes.last, Self.isOWS(last) { bytes.removeLast() }
        return bytes
    }

    /// Whether the bytes may be passed on: no CR, no NUL.
    private static func isFieldText(_ bytes: Slice<UnsafeRawBufferPointer>) -> Bool {
        !bytes.contains { $0 == UInt8(ascii: "\r") || $0 == 0 }
    }
}

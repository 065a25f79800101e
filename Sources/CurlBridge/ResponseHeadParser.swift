/// Builds the final response head from libcurl's header callback, which delivers one raw line per call.
///
/// A new status line starts over (libcurl reports `100 Continue` and other interim heads before the final one);
/// a line starting with whitespace continues the previous header (obsolete line folding, RFC 9112 §5.2);
/// lines after the head is complete (trailers) are ignored.
struct ResponseHeadParser {
    private var status = 0
    private var reason = ""
    private var headers: [(name: String, value: String)] = []
    private(set) var isComplete = false

    /// Feeds one header line, CRLF included.
    /// - Returns: The head, when `line` was the blank line that ends the final head.
    mutating func feed(_ line: UnsafeRawBufferPointer) -> TransferResponseHead? {
        guard !self.isComplete else { return nil }
        var end = line.count
        while end > 0, line[end - 1] == UInt8(ascii: "\n") || line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<end]), as: UTF8.self)
        return self.feed(line: text)
    }

    mutating func feed(line text: String) -> TransferResponseHead? {
        guard !self.isComplete else { return nil }
        if text.isEmpty {
            guard self.status != 0 else { return nil }
            if (100..<200).contains(self.status) && self.status != 101 {
                self = ResponseHeadParser()
                return nil
            }
            self.isComplete = true
            return TransferResponseHead(status: self.status, reason: self.reason, headers: self.headers)
        }
        if text.hasPrefix("HTTP/") {
            let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            self.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            self.reason = parts.count > 2 ? String(parts[2]) : ""
            self.headers = []
            return nil
        }
        if let first = text.first, first == " " || first == "\t" {
            if !self.headers.isEmpty {
                let continuation = text.trimmingOWS()
                self.headers[self.headers.count - 1].value += " " + continuation
            }
            return nil
        }
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = String(text[..<colon])
        let value = String(text[text.index(after: colon)...]).trimmingOWS()
        self.headers.append((name, value))
        return nil
    }
}

extension String {
    /// The string without leading and trailing optional whitespace (space and tab, RFC 9110 §5.6.3).
    func trimmingOWS() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}

import NIOCore
import Testing

@testable import CurlBridge

/// ``ResponseHeadParser`` on its own: the lines libcurl's header callback would deliver, fed one at a time, with the
/// status code libcurl would report for each head.
@Suite("ResponseHeadParser")
struct ResponseHeadParserTests {
    /// What feeding a whole upstream head produced.
    struct Outcome {
        /// Every head the parser returned, in order (one at most for a well-formed exchange).
        var heads: [TransferResponseHead] = []
        /// How many times the parser read libcurl's status code.
        var statusReads = 0
    }

    /// Feeds `text` split after each LF, as libcurl's header callback splits it; the status code for the n-th
    /// head read is `statuses[n]` (the last one repeats).
    static func feed(_ text: String, statuses: [Int], into parser: inout ResponseHeadParser) -> Outcome {
        var outcome = Outcome()
        var line: [UInt8] = []
        for byte in text.utf8 {
            line.append(byte)
            if byte == UInt8(ascii: "\n") {
                Self.feedLine(line, statuses: statuses, into: &parser, outcome: &outcome)
                line.removeAll()
            }
        }
        if !line.isEmpty { Self.feedLine(line, statuses: statuses, into: &parser, outcome: &outcome) }
        return outcome
    }

    /// ``feed(_:statuses:into:)`` on a new parser.
    static func parse(_ text: String, status: Int = 200) -> Outcome {
        var parser = ResponseHeadParser()
        return Self.feed(text, statuses: [status], into: &parser)
    }

    /// Feeds one line exactly as given, bytes that libcurl would have split on included.
    static func feedLine(
        _ line: [UInt8],
        statuses: [Int],
        into parser: inout ResponseHeadParser,
        outcome: inout Outcome
    ) {
        let head = line.withUnsafeBytes { bytes in
            parser.feed(bytes) {
                defer { outcome.statusReads += 1 }
                return statuses[min(outcome.statusReads, statuses.count - 1)]
            }
        }
        if let head { outcome.heads.append(head) }
    }

    /// The head's header lines as text, in the order kept.
    static func text(_ head: TransferResponseHead) -> String {
        head.lines.getString(at: 0, length: head.lines.writerIndex) ?? ""
    }

    /// The headers of the one head `text` produced, as `name: value` strings; fails when there is not exactly one.
    static func headers(_ text: String, status: Int = 200) throws -> [String] {
        let outcome = Self.parse(text, status: status)
        try #require(outcome.heads.count == 1, "\(text.debugDescription)")
        return outcome.heads[0].headers.map { "\($0.name): \($0.value)" }
    }

    // MARK: Status line

    @Test("the status code is libcurl's, the reason phrase the status line's, the header lines kept in order")
    func statusLine() throws {
        let outcome = Self.parse(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-Padded: \t a b \t\r\n\r\n",
            status: 404
        )
        let head = try #require(outcome.heads.first)
        #expect(outcome.heads.count == 1)
        #expect(head.status == 404)
        #expect(head.reason == "Not Found")
        #expect(head.headers.map(\.name) == ["Content-Type", "X-Padded"])
        #expect(head.headers.map(\.value) == ["text/plain", "a b"], "optional whitespace trimmed, inner kept")
        #expect(Self.text(head) == "Content-Type: text/plain\r\nX-Padded: a b\r\n")
        #expect(outcome.statusReads == 1, "the status is read once, at the blank line")
    }

    @Test("a status code in the status line that disagrees with libcurl's is ignored")
    func statusFromLibcurl() throws {
        let head = try #require(Self.parse("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n", status: 503).heads.first)
        #expect(head.status == 503)
        #expect(head.reason == "OK")
    }

    @Test(
        "the first line is the status line whatever its shape; the reason phrase is the text after the code, if any",
        arguments: [
            ("HTTP/1.1 200OK", ""),
            ("HTTP/1.1 204", ""),
            ("HTTP/2 200", ""),
            ("HTTP/1.1 200 bad\u{0}reason", ""),
            ("HTTP/1.1 200 Not  Quite OK", "Not  Quite OK"),
        ]
    )
    func oddStatusLine(statusLine: String, reason: String) throws {
        let headers = try Self.headers("\(statusLine)\r\nContent-Length: 36\r\n\r\n")
        #expect(headers == ["Content-Length: 36"], "the first line is the status line whatever it looks like")
        #expect(Self.parse("\(statusLine)\r\nContent-Length: 36\r\n\r\n").heads.first?.reason == reason)
    }

    @Test(
        "the status line's version plays no part: the head is the same for HTTP/1.0, 1.1 and 2",
        arguments: ["HTTP/1.0 200 OK", "HTTP/1.1 200 OK", "HTTP/2 200 OK", "HTTP/1.9 200 OK"]
    )
    func versionIgnored(statusLine: String) throws {
        let outcome = Self.parse("\(statusLine)\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n", status: 200)
        let head = try #require(outcome.heads.first)
        #expect(head.status == 200)
        #expect(head.reason == "OK")
        #expect(head.headers.map { "\($0.name): \($0.value)" } == ["Content-Length: 2", "Connection: keep-alive"])
    }

    @Test("no head when libcurl reports no valid status code for it")
    func noStatusCode() {
        for status in [0, 99, 1000] {
            let outcome = Self.parse("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n", status: status)
            #expect(outcome.heads.isEmpty, "status \(status)")
        }
    }

    // MARK: Field ranges

    @Test("each field's name, value and line ranges point at its bytes in `lines`")
    func fieldRanges() throws {
        let head = try #require(
            Self.parse(
                "HTTP/1.1 200 OK\r\nx-lower: v\r\nX-Empty:\r\nX-Spaces:   inner  space   \r\n"
                    + "Set-Cookie: a=1; Path=/\r\n\r\n"
            ).heads.first
        )
        try #require(head.fields.count == 4)
        let expected = [("x-lower", "v"), ("X-Empty", ""), ("X-Spaces", "inner  space"), ("Set-Cookie", "a=1; Path=/")]
        var offset = 0
        for (field, (name, value)) in zip(head.fields, expected) {
            #expect(head.lines.getString(at: field.name.lowerBound, length: field.name.count) == name)
            #expect(head.lines.getString(at: field.value.lowerBound, length: field.value.count) == value)
            let line = head.lines.getString(at: field.line.lowerBound, length: field.line.count)
            #expect(line == "\(name): \(value)\r\n")
            #expect(field.line.lowerBound == offset, "the lines follow each other with nothing in between")
            offset = field.line.upperBound
        }
        #expect(offset == head.lines.writerIndex)
        #expect(head.lines.readerIndex == 0)
    }

    // MARK: Dropped lines

    /// Each head has the header `dropped` between two kept ones; only the kept ones come out.
    @Test(
        "a header whose value holds a CR, LF or NUL, or whose name is not a token, is dropped",
        arguments: [
            "X-Split: a\rSet-Cookie: evil=1",
            "X-Nul: a\u{0}b",
            "X-Nul-End: ab\u{0}",
            "Bad Name: x",
            "Bad\tName: x",
            "Bad\"Name\": x",
            "Bad/Name: x",
            "Bad(Name): x",
            ": no name",
            "NoColonAtAll",
            "Bad\u{0}Name: x",
            "Bäd: x",
        ]
    )
    func droppedHeader(dropped: String) throws {
        let headers = try Self.headers("HTTP/1.1 200 OK\r\nX-Before: 1\r\n\(dropped)\r\nX-After: 2\r\n\r\n")
        #expect(headers == ["X-Before: 1", "X-After: 2"], "\(dropped.debugDescription)")
    }

    @Test("a line with an LF inside (libcurl splits at LF, but the callback is handed whatever it gets) is dropped")
    func lineFeedInValue() {
        var parser = ResponseHeadParser()
        var outcome = Self.feed("HTTP/1.1 200 OK\r\nX-Before: 1\r\n", statuses: [200], into: &parser)
        let split = Array("X-Split: a\nSet-Cookie: evil=1\r\n".utf8)
        Self.feedLine(split, statuses: [200], into: &parser, outcome: &outcome)
        let rest = Self.feed("X-After: 2\r\n\r\n", statuses: [200], into: &parser)
        #expect(outcome.heads.isEmpty)
        #expect(rest.heads.first?.headers.map(\.name) == ["X-Before", "X-After"])
    }

    @Test("every token character is allowed in a name, and a bare CR before the CRLF is stripped, not kept")
    func tokenNames() throws {
        let name = "!#$%&'*+-.^_`|~0aZ"
        let headers = try Self.headers("HTTP/1.1 200 OK\r\n\(name): x\r\nX-Trailing-CR: y\r\r\n\r\n")
        #expect(headers == ["\(name): x", "X-Trailing-CR: y"])
    }

    /// Whether a head with the one header line `line` (bytes, CRLF added) keeps it.
    static func keeps(_ line: [UInt8]) -> Bool {
        var parser = ResponseHeadParser()
        var outcome = Self.feed("HTTP/1.1 200 OK\r\n", statuses: [200], into: &parser)
        Self.feedLine(line + Array("\r\n".utf8), statuses: [200], into: &parser, outcome: &outcome)
        Self.feedLine(Array("\r\n".utf8), statuses: [200], into: &parser, outcome: &outcome)
        return outcome.heads.first?.fields.count == 1
    }

    @Test("a one-byte name is kept exactly when the byte is a token character, for all 256 bytes")
    func everyNameByte() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max where byte != UInt8(ascii: ":") && byte != UInt8(ascii: "\n") {
            #expect(Self.keeps([byte] + Array(": x".utf8)) == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test("a CR, LF or NUL anywhere in a long value drops it, whichever eight-byte word it falls in")
    func controlBytesAtEveryOffset() {
        // Every byte but the three, obs-text and tabs included, so no word is passed over for being plain.
        let plain = (UInt8(0x0E)...UInt8.max).map { $0 } + [UInt8(ascii: "\t"), 0x01, 0x0B, 0x0C]
        let value = Array(plain.prefix(37))
        #expect(Self.keeps(Array("X-Long: ".utf8) + value))
        for bad: UInt8 in [UInt8(ascii: "\r"), UInt8(ascii: "\n"), 0] {
            for offset in 1..<(value.count - 1) {
                var spoiled = value
                spoiled[offset] = bad
                #expect(!Self.keeps(Array("X-Long: ".utf8) + spoiled), "byte \(bad) at \(offset)")
            }
        }
        // A tab early in the value sends the check byte by byte: a CR after it still drops the value.
        #expect(!Self.keeps(Array("X-Tab: a\tbcdefghijklmnopqrstuvwxyz\r0123456789".utf8)))
        #expect(Self.keeps(Array("X-Tab: a\tbcdefghijklmnopqrstuvwxyz 0123456789".utf8)))
    }

    @Test(
        "a status-looking line in the middle of a head is a header line, dropped, not the start of a new head",
        arguments: ["HTTP/1.1 304 Not:Modified", "HTTP/1.1 304 Not Modified", "HTTP/1.1 200 OK"]
    )
    func statusLineMidHead(line: String) throws {
        let outcome = Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 36\r\n\(line)\r\nX-After: 1\r\n\r\n")
        let head = try #require(outcome.heads.first)
        #expect(outcome.heads.count == 1)
        #expect(head.status == 200)
        #expect(head.reason == "OK")
        #expect(head.headers.map { "\($0.name): \($0.value)" } == ["Content-Length: 36", "X-After: 1"])
    }

    // MARK: Obsolete line folding

    @Test("a line starting with a space or tab continues the header before it, joined with one space")
    func continuation() throws {
        let outcome = Self.parse("HTTP/1.1 200 OK\r\nX-Fold: a\r\n   b  \r\n\tc\r\nX-Next: d\r\n\r\n")
        let head = try #require(outcome.heads.first)
        #expect(head.headers.map { "\($0.name): \($0.value)" } == ["X-Fold: a b c", "X-Next: d"])
        #expect(Self.text(head) == "X-Fold: a b c\r\nX-Next: d\r\n", "the joined line replaces the first in place")
        let next = try #require(head.fields.last)
        #expect(head.lines.getString(at: next.line.lowerBound, length: next.line.count) == "X-Next: d\r\n")
    }

    @Test("continuation lines of a dropped header are dropped with it, never joined to the header kept before it")
    func continuationOfDroppedHeader() throws {
        let cases = [
            "HTTP/1.1 200 OK\r\nX-Kept: 1\r\nBad Name: x\r\n Set-Cookie: evil=1\r\n\tmore\r\nX-After: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-Kept: 1\r\nX-Nul: a\u{0}b\r\n evil\r\nX-After: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-Kept: 1\r\nHTTP/1.1 304 Not:Modified\r\n evil\r\nX-After: 2\r\n\r\n",
        ]
        for text in cases {
            #expect(try Self.headers(text) == ["X-Kept: 1", "X-After: 2"], "\(text.debugDescription)")
        }
    }

    @Test("a continuation right after the status line has no header to continue and is dropped")
    func continuationFirst() throws {
        #expect(try Self.headers("HTTP/1.1 200 OK\r\n X-Folded: 1\r\nX-A: 2\r\n\r\n") == ["X-A: 2"])
    }

    @Test("a continuation holding a NUL is dropped; the header it would have continued is kept as it was")
    func continuationWithNul() throws {
        let headers = try Self.headers("HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\u{0}c\r\nX-A: 2\r\n\r\n")
        #expect(headers == ["X-Fold: a", "X-A: 2"])
    }

    // MARK: Heads

    @Test("interim heads (100, 103) start over: only the final head and its headers come out")
    func interimHeads() throws {
        var parser = ResponseHeadParser()
        let text =
            "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
            + "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nX-Final: 1\r\n\r\n"
        let outcome = Self.feed(text, statuses: [100, 103, 201], into: &parser)
        let head = try #require(outcome.heads.first)
        #expect(outcome.heads.count == 1)
        #expect(head.status == 201)
        #expect(head.reason == "Created")
        #expect(head.headers.map(\.name) == ["X-Final"])
        #expect(Self.text(head) == "X-Final: 1\r\n")
        #expect(outcome.statusReads == 3)
        #expect(parser.isComplete)
    }

    @Test("101 Switching Protocols is a final head, not an interim one")
    func switchingProtocols() throws {
        let outcome = Self.parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", status: 101)
        let head = try #require(outcome.heads.first)
        #expect(head.status == 101)
        #expect(head.headers.map(\.name) == ["Upgrade"])
    }

    @Test("lines after the final head (trailers, a second head) are ignored, and the status is not read again")
    func afterComplete() throws {
        var parser = ResponseHeadParser()
        let first = Self.feed("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n", statuses: [200], into: &parser)
        #expect(first.heads.count == 1)
        #expect(parser.isComplete)
        let later = Self.feed("X-Trailer: 2\r\n\r\nHTTP/1.1 500 Oops\r\nX-B: 3\r\n\r\n", statuses: [500], into: &parser)
        #expect(later.heads.isEmpty)
        #expect(later.statusReads == 0)
        #expect(parser.isComplete)
    }

    @Test("the parser is not complete until the blank line that ends the final head")
    func incompleteHead() {
        var parser = ResponseHeadParser()
        let outcome = Self.feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", statuses: [200], into: &parser)
        #expect(outcome.heads.isEmpty)
        #expect(outcome.statusReads == 0)
        #expect(!parser.isComplete)
        var interim = ResponseHeadParser()
        _ = Self.feed("HTTP/1.1 100 Continue\r\n\r\n", statuses: [100], into: &interim)
        #expect(!interim.isComplete, "an interim head does not complete the response head")
    }
}

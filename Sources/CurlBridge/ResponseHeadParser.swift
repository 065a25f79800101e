internal import NIOCore

/// Builds the final response head from libcurl's header callback, which delivers one raw line per call.
///
/// The first line of each head is its status line, whatever it looks like: libcurl only calls back with lines it
/// took as a head, and a status-looking line in the middle of one is a header line to libcurl, so it must be one
/// here too. The status code is libcurl's own (`CURLINFO_RESPONSE_CODE`, passed in at the blank line), never a
/// second parse that could disagree with how libcurl frames the body. An interim head (`100 Continue`, …) starts
/// over; a line starting with whitespace continues the previous header (obsolete line folding, RFC 9112 §5.2), or
/// is dropped with it; lines after the head is complete (trailers) are ignored. The lines are scanned and kept as bytes, in one
/// buffer per head: this runs once per upstream header line, on the curl thread, for every request.
///
/// A header whose name is not a token, or whose value holds a CR, LF or NUL, is dropped: libcurl splits lines at LF
/// only, and such bytes must never reach the client (response splitting); the server side does not validate
/// the headers again.
struct ResponseHeadParser {
    private var reason = ""
    private var lines = ByteBuffer()
    private var fields: [TransferResponseHead.Field] = []
    /// The next line is the status line of a head.
    private var isAtHeadStart = true
    /// The last header line was dropped: so are the lines that continue it.
    private var isLastLineDropped = false
    private(set) var isComplete = false
    /// Room for the headers of a typical API response (Procore's carry about 20), reserved at the first one.
    private static let expectedFieldCount = 32

    /// Feeds one header line, CRLF included.
    /// - Parameter statusCode: libcurl's status code for the head, read only at its blank line.
    /// - Returns: The head, when `line` was the blank line that ends the final head.
    mutating func feed(_ line: UnsafeRawBufferPointer, statusCode: () -> Int) -> TransferResponseHead? {
        guard !self.isComplete else { return nil }
        var end = line.count
        while end > 0, line[end - 1] == UInt8(ascii: "\n") || line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: line[0..<end])
        if self.isAtHeadStart {
            self.startHead(statusLine: line)
            return nil
        }
        guard let first = line.first else { return self.finishHead(status: statusCode()) }
        if Self.isOWS(first) {
            self.continueHeader(with: Self.trimmingOWS(line[...]))
        } else {
            self.isLastLineDropped = !self.addHeader(line)
        }
        return nil
    }

    /// Obsolete line folding: joins the continuation to the header before it, with one space.
    private mutating func continueHeader(with continuation: Slice<UnsafeRawBufferPointer>) {
        guard !self.isLastLineDropped, let last = self.fields.indices.last,
            Self.isFieldText(UnsafeRawBufferPointer(rebasing: continuation))
        else {
            return
        }
        // The value ends the buffer, before its CRLF: the continuation goes in its place.
        self.lines.moveWriterIndex(to: self.fields[last].value.upperBound)
        self.lines.writeInteger(UInt8(ascii: " "))
        self.lines.writeBytes(UnsafeRawBufferPointer(rebasing: continuation))
        self.fields[last].value = self.fields[last].value.lowerBound..<self.lines.writerIndex
        self.lines.writeStaticString("\r\n")
    }

    /// - Returns: Whether the header was kept.
    private mutating func addHeader(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
            UnsafeRawBufferPointer(rebasing: line[..<colon]).allSatisfy(Self.isTokenCharacter)
        else { return false }
        let value = UnsafeRawBufferPointer(rebasing: Self.trimmingOWS(line[(colon + 1)...]))
        guard Self.isFieldText(value) else { return false }
        if self.lines.capacity == 0 { self.lines.reserveCapacity(1024) }
        if self.fields.capacity == 0 { self.fields.reserveCapacity(Self.expectedFieldCount) }
        // `name: value\r\n` in one write: four ByteBuffer writes cost ~900 instructions a header.
        let nameStart = self.lines.writerIndex
        let valueStart = nameStart + colon + 2
        let length = colon + 2 + value.count + 2
        self.lines.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
            UnsafeMutableRawBufferPointer(rebasing: out[..<colon]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: line[..<colon])
            )
            out[colon] = UInt8(ascii: ":")
            out[colon + 1] = UInt8(ascii: " ")
            UnsafeMutableRawBufferPointer(rebasing: out[(colon + 2)...]).copyMemory(from: value)
            out[length - 2] = UInt8(ascii: "\r")
            out[length - 1] = UInt8(ascii: "\n")
            return length
        }
        self.fields.append(.init(name: nameStart..<nameStart + colon, value: valueStart..<valueStart + value.count))
        return true
    }

    /// `HTTP/1.1 200 OK`: only the reason phrase is taken from it, when the line has that shape.
    private mutating func startHead(statusLine line: UnsafeRawBufferPointer) {
        self.isAtHeadStart = false
        self.isLastLineDropped = false
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
        self.reason =
            fields.count > 2 && Self.isFieldText(UnsafeRawBufferPointer(rebasing: fields[2]))
            ? String(decoding: UnsafeRawBufferPointer(rebasing: fields[2]), as: UTF8.self) : ""
        self.lines.clear()
        self.fields.removeAll(keepingCapacity: true)
    }

    private mutating func finishHead(status: Int) -> TransferResponseHead? {
        guard (100...999).contains(status) else { return nil }
        if status < 200 && status != 101 {
            self = ResponseHeadParser()
            return nil
        }
        self.isComplete = true
        return TransferResponseHead(status: status, reason: self.reason, lines: self.lines, fields: self.fields)
    }

    private static func isOWS(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// RFC 9110 §5.6.2 `tchar`, as a set of bits: bit `byte % 64` of word `byte / 64`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        let word: UInt64 =
            switch byte >> 6 {
            case 0: 0x03FF_6CFA_0000_0000  // ! # $ % & ' * + - . 0-9
            case 1: 0x57FF_FFFF_C7FF_FFFE  // A-Z ^ _ ` a-z | ~
            default: 0
            }
        return (word >> (byte & 63)) & 1 == 1
    }

    private static func trimmingOWS(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var bytes = bytes
        while let first = bytes.first, Self.isOWS(first) { bytes.removeFirst() }
        while let last = bytes.last, Self.isOWS(last) { bytes.removeLast() }
        return bytes
    }

    /// Whether the bytes may be passed on: no CR, LF or NUL. Eight bytes at a time while every byte of the word is
    /// above `\r` (the three are not), then byte by byte over the buffer itself, not a `Slice` of it, whose
    /// bounds-checked indexing costs four times as much a byte.
    private static func isFieldText(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            // Non-zero when some byte is below 14 (`\r` + 1), exactly so for any limit up to 128.
            if (word &- 0x0E0E_0E0E_0E0E_0E0E) & ~word & 0x8080_8080_8080_8080 != 0 { break }
            offset += 8
        }
        return !UnsafeRawBufferPointer(rebasing: bytes[offset...]).contains {
            $0 <= UInt8(ascii: "\r") && ($0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") || $0 == 0)
        }
    }
}

import Testing

@testable import CORSProxy

/// The access log's byte buffer: numbers, padding and JSON strings written in place must read exactly as
/// `String` formatting would have written them.
@Suite("Log line")
struct LogLineTests {
    static func text(_ build: (inout LogLine) -> Void) -> String {
        var line = LogLine()
        build(&line)
        return String(decoding: line.bytes, as: UTF8.self)
    }

    @Test("decimals: zero, negative, the largest and smallest Int, zero- and space-padded")
    func decimals() {
        for value in [0, 7, 10, 999, 1_000_000, -1, -42, Int.max, Int.min] {
            #expect(Self.text { $0.append(decimal: value) } == String(value))
        }
        #expect(Self.text { $0.append(decimal: 5, width: 3) } == "005")
        #expect(Self.text { $0.append(decimal: 12, width: 5, fill: UInt8(ascii: " ")) } == "   12")
        #expect(Self.text { $0.append(decimal: 123_456, width: 3) } == "123456", "a wider number is written whole")
    }

    @Test("padding counts characters, not bytes; a longer text is written whole")
    func padding() {
        #expect(Self.text { $0.append("GET", paddedTo: 7) } == "GET    ")
        #expect(Self.text { $0.append("/ü/é", paddedTo: 6) } == "/ü/é  ")
        #expect(Self.text { $0.append("OPTIONSX", paddedTo: 7) } == "OPTIONSX")
    }

    @Test("JSON strings: quotes, backslashes and control characters escaped, UTF-8 kept")
    func json() {
        #expect(Self.text { $0.appendJSON("plain") } == #""plain""#)
        #expect(Self.text { $0.appendJSON("a\"b\\c\nd\re\tf\u{1}g\u{1F}") } == #""a\"b\\c\nd\re\tf\u0001g\u001f""#)
        #expect(Self.text { $0.appendJSON("Grüße ↳") } == "\"Grüße ↳\"")
        #expect(JSONString.quoted("x\u{0}") == #""x\u0000""#)
    }

    @Test("time stamps: ISO 8601 in UTC with milliseconds")
    func iso8601() {
        let time = WallClock(seconds: 1_796_137_445, milliseconds: 7)  // 2026-12-01T15:04:05.007Z
        #expect(Self.text { time.appendISO8601(to: &$0) } == "2026-12-01T15:04:05.007Z")
    }

    @Test("colour: status and verdict wrapped in ANSI escapes only when enabled")
    func colour() {
        let on = AccessLog.Paint(enabled: true)
        let off = AccessLog.Paint(enabled: false)
        #expect(Self.text { on.status(404, into: &$0) } == "\u{1B}[33m404\u{1B}[0m")
        #expect(Self.text { on.write("allowed", .green, paddedTo: 9, into: &$0) } == "\u{1B}[32mallowed  \u{1B}[0m")
        #expect(Self.text { off.status(502, into: &$0) } == "502")
        #expect(Self.text { off.write("refused", .red, paddedTo: 9, into: &$0) } == "refused  ")
    }
}

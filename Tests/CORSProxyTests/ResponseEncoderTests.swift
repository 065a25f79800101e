import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CORSProxy

/// The bytes of a response head's first lines: the status line's precomputed forms and the `Date` line.
@Suite("Response encoder")
struct ResponseEncoderTests {
    static func statusLine(_ version: HTTPVersion, _ status: HTTPResponseStatus) -> String {
        var buffer = ByteBuffer()
        ResponseEncoder.writeStatusLine(version: version, status: status, into: &buffer)
        return String(buffer: buffer)
    }

    @Test(
        "each precomputed status line is the one the general path writes",
        arguments: [HTTPResponseStatus.ok, .noContent, .notModified, .forbidden]
    )
    func commonStatusLines(status: HTTPResponseStatus) throws {
        let line = try #require(ResponseEncoder.commonStatusLine(status))
        #expect(line.description == "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n")
        #expect(Self.statusLine(.http1_1, status) == line.description)
        #expect(Self.statusLine(.http1_0, status) == "HTTP/1.0 \(status.code) \(status.reasonPhrase)\r\n")
    }

    @Test("other statuses, and an upstream's own reason phrase, are written piece by piece")
    func otherStatusLines() {
        #expect(ResponseEncoder.commonStatusLine(.badGateway) == nil)
        #expect(Self.statusLine(.http1_1, .badGateway) == "HTTP/1.1 502 Bad Gateway\r\n")
        let custom = HTTPResponseStatus(statusCode: 299, reasonPhrase: "Fine")
        #expect(Self.statusLine(.http1_1, custom) == "HTTP/1.1 299 Fine\r\n")
    }

    @Test("the Date line is now's IMF-fixdate, and the same bytes again within the second")
    func dateLine() throws {
        let date = HTTPDate()
        var first = ByteBuffer()
        var second = ByteBuffer()
        let before = Int(time(nil))
        date.writeLine(into: &first)
        date.writeLine(into: &second)
        let after = Int(time(nil))
        let text = String(buffer: first)
        let candidates = Set([before, after].map { "Date: \(HTTPDate.format(secondsSince1970: $0))\r\n" })
        #expect(candidates.contains(text), "\(text)")
        #expect(text.wholeMatch(of: /Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/) != nil)
        if before == after { #expect(String(buffer: second) == text) }
    }
}

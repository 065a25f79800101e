internal import FoundationEssentials
internal import NIOCore

/// The JSON bodies of the proxy's own answers (errors, reports): sorted keys, one line and a newline.
enum JSONBody {
    static func encode(_ value: some Encodable) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var body = ByteBuffer(bytes: (try? encoder.encode(value)) ?? Data("{}".utf8))
        body.writeStaticString("\n")
        return body
    }
}

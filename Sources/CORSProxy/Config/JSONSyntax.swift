/// Finds where a JSON text (RFC 8259) first goes wrong, for the config error message: the JSON decoder only says
/// that the data was not valid JSON.
struct JSONSyntax {
    /// The first syntax error, as `line L, column C: what`; `nil` when the text is valid JSON.
    static func firstError(in bytes: some Collection<UInt8>) -> String? {
        var scanner = JSONSyntax(bytes: Array(bytes))
        do throws(Failure) {
            scanner.skipWhitespace()
            try scanner.value(depth: 0)
            scanner.skipWhitespace()
            if scanner.index < scanner.bytes.count { throw scanner.failure("unexpected text after the document") }
            return nil
        } catch {
            return error.message
        }
    }

    private struct Failure: Error {
        let message: String
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private func failure(_ what: String) -> Failure {
        let before = self.bytes[..<min(self.index, self.bytes.count)]
        let line = before.count { $0 == UInt8(ascii: "\n") } + 1
        let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        return Failure(message: "line \(line), column \(self.index - lineStart + 1): \(what)")
    }

    private func unexpected(_ expected: String) -> Failure {
        guard let byte = self.current else { return self.failure("the text ends where \(expected) should be") }
        let shown =
            (0x21...0x7E).contains(byte)
            ? "\"\(Character(Unicode.Scalar(byte)))\"" : "byte 0x" + String(byte, radix: 16, uppercase: true)
        return self.failure("found \(shown) where \(expected) should be")
    }

    private mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { self.index += 1 }
    }

    private mutating func value(depth: Int) throws(Failure) {
        guard depth < 512 else { throw self.failure("nested too deeply") }
        switch self.current ?? 0 {
        case UInt8(ascii: "{"): try self.object(depth: depth)
        case UInt8(ascii: "["): try self.array(depth: depth)
        case UInt8(ascii: "\""): try self.string()
        case UInt8(ascii: "t"): try self.literal("true")
        case UInt8(ascii: "f"): try self.literal("false")
        case UInt8(ascii: "n"): try self.literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try self.number()
        default: throw self.unexpected("a value")
        }
    }

    private mutating func object(depth: Int) throws(Failure) {
        self.index += 1
        self.skipWhitespace()
        if self.current == UInt8(ascii: "}") {
            self.index += 1
            return
        }
        while true {
            guard self.current == UInt8(ascii: "\"") else { throw self.unexpected("a key in quotes") }
            try self.string()
            self.skipWhitespace()
            guard self.current == UInt8(ascii: ":") else { throw self.unexpected("\":\"") }
            self.index += 1
            self.skipWhitespace()
            try self.value(depth: depth + 1)
            self.skipWhitespace()
            if self.current == UInt8(ascii: "}") {
                self.index += 1
                return
            }
            guard self.current == UInt8(ascii: ",") else { throw self.unexpected("\",\" or \"}\"") }
            self.index += 1
            self.skipWhitespace()
        }
    }

    private mutating func array(depth: Int) throws(Failure) {
        self.index += 1
        self.skipWhitespace()
        if self.current == UInt8(ascii: "]") {
            self.index += 1
            return
        }
        while true {
            try self.value(depth: depth + 1)
            self.skipWhitespace()
            if self.current == UInt8(ascii: "]") {
                self.index += 1
                return
            }
            guard self.current == UInt8(ascii: ",") else { throw self.unexpected("\",\" or \"]\"") }
            self.index += 1
            self.skipWhitespace()
        }
    }

    private mutating func string() throws(Failure) {
        self.index += 1
        while let byte = self.current {
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return
            case UInt8(ascii: "\\"):
                self.index += 1
                guard let escaped = self.current, "\"\\/bfnrtu".utf8.contains(escaped) else {
                    throw self.unexpected("an escape (\\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\u)")
                }
                self.index += 1
                if escaped == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        guard let hex = self.current, Character(Unicode.Scalar(hex)).isHexDigit else {
                            throw self.unexpected("a hex digit")
                        }
                        self.index += 1
                    }
                }
            case 0x00..<0x20:
                throw self.failure("a control character inside a string (write it as an escape)")
            default:
                self.index += 1
            }
        }
        throw self.failure("the text ends inside a string")
    }

    private mutating func literal(_ word: String) throws(Failure) {
        for expected in word.utf8 {
            guard self.current == expected else { throw self.unexpected("\"\(word)\"") }
            self.index += 1
        }
    }

    private mutating func number() throws(Failure) {
        if self.current == UInt8(ascii: "-") { self.index += 1 }
        try self.digits()
        if self.current == UInt8(ascii: ".") {
            self.index += 1
            try self.digits()
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            self.index += 1
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.index += 1 }
            try self.digits()
        }
    }

    private mutating func digits() throws(Failure) {
        guard let first = self.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw self.unexpected("a digit")
        }
        while let byte = self.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { self.index += 1 }
    }
}

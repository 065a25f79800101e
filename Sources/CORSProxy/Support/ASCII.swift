/// Byte-level text helpers for the request path, where `String`'s Unicode-aware operations cost more than the
/// rest of a request. HTTP field names and the tokens compared here are ASCII.
enum ASCII {
    /// Whether `bytes` equal `lowercase` (lowercase ASCII) ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for (byte, expected) in zip(bytes, lowercase) where self.lowercased(byte) != expected {
            return false
        }
        return true
    }

    /// Whether `a` equals `b` ignoring ASCII case, either of any case.
    static func equalIgnoringCase(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where self.lowercased(x) != self.lowercased(y) {
            return false
        }
        return true
    }

    /// Whether `text` equals `lowercase` (lowercase ASCII) ignoring ASCII case.
    static func equalsIgnoringCase(_ text: String, _ lowercase: String) -> Bool {
        self.equalsIgnoringCase(text.utf8, lowercase.utf8)
    }

    /// Whether `bytes` are one or more decimal digits (a port, a `Content-Length`).
    static func isDecimal(_ bytes: some Collection<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// The value of a hexadecimal digit.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// Space or horizontal tab: optional whitespace (RFC 9110 §5.6.3).
    static func isOWS(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1), trimmed of optional whitespace,
    /// empty elements skipped, until `body` returns `false`.
    /// - Returns: `false` when `body` stopped the walk.
    @discardableResult
    static func forEachListElement(in value: String, _ body: (Substring.UTF8View) -> Bool) -> Bool {
        var rest = Substring(value).utf8[...]
        while !rest.isEmpty {
            let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
            var element = rest[..<comma]
            while let first = element.first, self.isOWS(first) { element.removeFirst() }
            while let last = element.last, self.isOWS(last) { element.removeLast() }
            if !element.isEmpty, !body(element) { return false }
            rest = comma == rest.endIndex ? rest[comma...] : rest[rest.index(after: comma)...]
        }
        return true
    }
}

extension String {
    /// The string without leading and trailing optional whitespace (space and tab, RFC 9110 §5.6.3).
    func trimmingOWS() -> String {
        var bytes = Substring(self).utf8[...]
        while let first = bytes.first, ASCII.isOWS(first) { bytes.removeFirst() }
        while let last = bytes.last, ASCII.isOWS(last) { bytes.removeLast() }
        return String(Substring(bytes))
    }
}

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Byte-level text helpers for the request path, where `String`'s Unicode-aware operations cost more than the
/// rest of a request. HTTP field names and the tokens compared here are ASCII.
enum ASCII {
    /// Whether `bytes` equal `lowercase` (lowercase ASCII) ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        self.compare(bytes, lowercase) { self.lowercased($0) == $1 }
    }

    /// Whether `a` equals `b` ignoring ASCII case, either of any case.
    static func equalIgnoringCase(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        self.compare(a, b) { self.lowercased($0) == self.lowercased($1) }
    }

    /// Whether `a` and `b` have the same length and `equal` holds for each pair of bytes: over contiguous bytes
    /// when both have them (a native `String`'s UTF-8 does), since stepping a `String.UTF8View` costs far more.
    @inline(__always)
    private static func compare(
        _ a: some Collection<UInt8>,
        _ b: some Collection<UInt8>,
        _ equal: (UInt8, UInt8) -> Bool
    ) -> Bool {
        let contiguous = a.withContiguousStorageIfAvailable { x in
            b.withContiguousStorageIfAvailable { y in
                x.count == y.count && !zip(x, y).contains { !equal($0, $1) }
            }
        }
        if let contiguous, let result = contiguous { return result }
        guard a.count == b.count else { return false }
        return !zip(a, b).contains { !equal($0, $1) }
    }

    /// Whether `bytes` start with `prefix`, byte for byte: over contiguous bytes when both have them, since the
    /// generic `starts(with:)` steps two `String.UTF8View`s at about 100 instructions a byte.
    static func hasPrefix(_ bytes: some Collection<UInt8>, _ prefix: some Collection<UInt8>) -> Bool {
        let contiguous = bytes.withContiguousStorageIfAvailable { x in
            prefix.withContiguousStorageIfAvailable { y in
                x.count >= y.count && UnsafeBufferPointer(rebasing: x[..<y.count]).elementsEqual(y)
            }
        }
        if let contiguous, let result = contiguous { return result }
        return bytes.starts(with: prefix)
    }

    /// The offset of the first `byte` in `text` at or after `start`, counted in UTF-8 bytes.
    static func firstOffset(of byte: UInt8, in text: String, from start: Int) -> Int? {
        var text = text
        return text.withUTF8 { Self.firstOffset(of: byte, in: UnsafeRawBufferPointer($0), from: start) }
    }

    /// The offset of the first `byte` in `bytes` at or after `start`: `memchr`, which reads a word at a time where
    /// `firstIndex(of:)` steps byte by byte.
    static func firstOffset(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(byte), bytes.count - start)
        else { return nil }
        return UnsafeRawPointer(found) - base
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
    /// empty elements skipped, until `body` returns `false`. The element's bytes are the string's own, valid only
    /// during the call: no view is built and nothing is copied unless `body` copies it.
    /// - Returns: `false` when `body` stopped the walk.
    @discardableResult
    static func forEachListElement(in value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                let comma = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.count
                var lower = start
                var upper = comma
                while lower < upper, self.isOWS(bytes[lower]) { lower += 1 }
                while upper > lower, self.isOWS(bytes[upper - 1]) { upper -= 1 }
                if lower < upper, !body(UnsafeBufferPointer(rebasing: bytes[lower..<upper])) { return false }
                start = comma + 1
            }
            return true
        }
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

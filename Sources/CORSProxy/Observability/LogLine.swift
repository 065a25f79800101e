/// One access log line as it is formatted: UTF-8 bytes appended into a single buffer, which goes to the
/// ``LogDestination`` as it is. Numbers and padding are written in place, without an intermediate `String`.
struct LogLine {
    private(set) var bytes: [UInt8]

    init(capacity: Int = 512) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    mutating func append(_ text: String) {
        self.bytes.append(contentsOf: text.utf8)
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { self.bytes.append(contentsOf: $0) }
    }

    /// `value` as a JSON string literal.
    mutating func appendJSON(_ value: String) {
        JSONString.append(value, to: &self.bytes)
    }

    mutating func append(_ byte: UInt8, count: Int) {
        guard count > 0 else { return }
        self.bytes.append(contentsOf: repeatElement(byte, count: count))
    }

    /// `value` in decimal, left-padded with `fill` to `width` characters (sign included).
    mutating func append(decimal value: Int, width: Int = 0, fill: UInt8 = UInt8(ascii: "0")) {
        var magnitude = value.magnitude
        var length = value < 0 ? 2 : 1
        var rest = magnitude / 10
        while rest > 0 {
            length += 1
            rest /= 10
        }
        self.append(fill, count: width - length)
        self.append(UInt8(ascii: "-"), count: length)  // overwritten by the digits; a negative keeps the first
        var index = self.bytes.count
        repeat {
            index -= 1
            self.bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
    }

    /// `text` left-aligned in a column of `width` characters (a longer text is written whole).
    mutating func append(_ text: String, paddedTo width: Int) {
        self.append(text)
        self.append(UInt8(ascii: " "), count: width - Self.width(of: text))
    }

    /// The columns `text` takes: one per Unicode scalar (its UTF-8 bytes that do not continue a scalar).
    static func width(of text: String) -> Int {
        var count = 0
        for byte in text.utf8 where byte & 0xC0 != 0x80 { count += 1 }
        return count
    }
}

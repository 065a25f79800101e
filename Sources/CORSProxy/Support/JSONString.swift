/// JSON string literals for text the proxy writes itself (the access log, `doctor --json`): `"` and `\\`
/// escaped, control characters as `\\n`, `\\r`, `\\t` or `\\u00XX`, everything else as it is.
public enum JSONString {
    /// `value` as a JSON string literal.
    public static func quoted(_ value: String) -> String {
        var text = ""
        self.append(value, to: &text)
        return text
    }

    /// Appends `value` as a JSON string literal; text that needs no escape is appended whole.
    public static func append(_ value: String, to text: inout String) {
        text += "\""
        let needsEscape = value.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        guard needsEscape else {
            text += value
            text += "\""
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                text += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

import CORSProxy

/// A JSON value to print, whose objects keep their keys in the order written: output people read (and `jq`
/// parses) with the verdict first, which an encoder over dictionaries cannot promise.
enum JSONOutput {
    case null
    case bool(Bool)
    case number(Int)
    case string(String)
    case array([JSONOutput])
    case object([(String, JSONOutput)])

    /// A string, or `null` for `nil`.
    static func optional(_ value: String?) -> JSONOutput {
        value.map { .string($0) } ?? .null
    }

    /// The value as JSON text (RFC 8259), indented by two spaces per level.
    func rendered(indent: Int = 0) -> String {
        if let line = self.inline, line.count <= 100 { return line }
        let inner = String(repeating: " ", count: indent + 2)
        let outer = String(repeating: " ", count: indent)
        switch self {
        case .null, .bool, .number, .string: return self.scalarText ?? ""
        case .array(let items):
            guard !items.isEmpty else { return "[]" }
            let lines = items.map { inner + $0.rendered(indent: indent + 2) }
            return "[\n" + lines.joined(separator: ",\n") + "\n\(outer)]"
        case .object(let members):
            guard !members.isEmpty else { return "{}" }
            let lines = members.map { inner + JSONString.quoted($0.0) + ": " + $0.1.rendered(indent: indent + 2) }
            return "{\n" + lines.joined(separator: ",\n") + "\n\(outer)}"
        }
    }

    /// The value on one line when it holds scalars only (`{"name": "Vary", "value": "Origin"}`); else `nil`.
    private var inline: String? {
        switch self {
        case .null, .bool, .number, .string: return self.scalarText
        case .array(let items):
            let texts = items.compactMap(\.scalarText)
            return texts.count == items.count ? "[" + texts.joined(separator: ", ") + "]" : nil
        case .object(let members):
            let texts = members.compactMap { member in
                member.1.scalarText.map { JSONString.quoted(member.0) + ": " + $0 }
            }
            return texts.count == members.count ? "{" + texts.joined(separator: ", ") + "}" : nil
        }
    }

    private var scalarText: String? {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .number(let value): String(value)
        case .string(let value): JSONString.quoted(value)
        case .array, .object: nil
        }
    }
}

import CORSProxy
import Foundation
import Testing

/// `proxy.schema.json`, the README's configuration table and the loader describe the same keys: every key the
/// schema has is one the loader reads, and every schema key has a row in the table (or an ancestor's row does,
/// as `limits.rateLimit` covers its `key`, `rate` and `burst`), and the reverse.
@Suite("Config schema and README table")
struct ConfigSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Every property's key path in the schema: `timeouts.drain`, `routes[].prefix` (an array's items as `[]`).
    static func schemaPaths() throws -> [String] {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("proxy.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let definitions = schema["$defs"] as? [String: Any] ?? [:]
        var paths: [String] = []
        func walk(_ node: [String: Any], _ path: String) {
            var node = node
            if let reference = node["$ref"] as? String, let name = reference.split(separator: "/").last {
                node = definitions[String(name)] as? [String: Any] ?? [:]
            }
            for (key, value) in (node["properties"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let child = path.isEmpty ? key : "\(path).\(key)"
                paths.append(child)
                walk(value as? [String: Any] ?? [:], child)
            }
            if let items = node["items"] as? [String: Any] { walk(items, path + "[]") }
        }
        walk(schema, "")
        return paths.filter { $0 != "$schema" }
    }

    /// The keys of the README's configuration table.
    static func readmeRows() throws -> [String] {
        let text = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let table = try #require(text.firstRange(of: "| key | type | default (key omitted) | meaning |"))
        let end = text[table.upperBound...].firstRange(of: "\n\n")?.lowerBound ?? text.endIndex
        return text[table.upperBound..<end].split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| `"), let close = line.dropFirst(3).firstIndex(of: "`") else { return nil }
            return String(line[line.index(line.startIndex, offsetBy: 3)..<close])
        }
    }

    @Test("every key in the schema is one the loader reads: none is an unknown key")
    func loaderKnowsEverySchemaKey() throws {
        let paths = try Self.schemaPaths()
        #expect(paths.count > 40, "\(paths)")
        for path in paths {
            // The key with a null value at its place, arrays holding one item: `routes[].prefix` is
            // {"routes": [{"prefix": null}]}, reported at `routes[0].prefix`.
            let segments = path.split(separator: ".").map(String.init)
            func value(_ index: Int) -> Any {
                guard index < segments.count else { return NSNull() }
                let segment = segments[index]
                let name = segment.hasSuffix("[]") ? String(segment.dropLast(2)) : segment
                let inner = value(index + 1)
                return [name: segment.hasSuffix("[]") && index + 1 < segments.count ? [inner] : inner]
            }
            let data = try JSONSerialization.data(withJSONObject: value(0))
            let reported = path.replacingOccurrences(of: "[]", with: "[0]")
            do {
                _ = try ProxyConfig.parse(data)
            } catch let error as ConfigError {
                let unknown = error.issues.filter { $0.message.hasPrefix("unknown key") }
                #expect(unknown.isEmpty, "\(path): \(unknown.map { "\($0.path): \($0.message)" }) for \(reported)")
            }
        }
    }

    @Test("the README's table has a row for every schema key (or its parent's), and no row the schema lacks")
    func readmeTableMatchesSchema() throws {
        let paths = try Self.schemaPaths()
        let rows = try Self.readmeRows()
        #expect(rows.count > 30, "\(rows)")
        for row in rows { #expect(paths.contains(row), "README row \(row) is not in proxy.schema.json") }
        for path in paths {
            // Covered by its own row, an ancestor's (`limits.rateLimit` → `.key`), or, for an object, its keys' rows.
            let covered = rows.contains { row in
                row == path || path.hasPrefix(row + ".") || path.hasPrefix(row + "[].") || row.hasPrefix(path + ".")
                    || row.hasPrefix(path + "[].")
            }
            #expect(covered, "proxy.schema.json's \(path) has no row in the README's configuration table")
        }
    }
}

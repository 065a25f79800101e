import CORSProxy
import Foundation
import NIOConcurrencyHelpers

/// The access log of a proxy running in the test process: its JSON lines, as written.
final class AccessLines: LogDestination {
    private let box = NIOLockedValueBox<[String]>([])

    var lines: [String] { self.box.withLockedValue { $0 } }

    func write(_ line: [UInt8]) {
        let text = String(decoding: line, as: UTF8.self)
        self.box.withLockedValue { $0.append(text) }
    }

    /// A JSON line as `request key=value… ` (a text-format line as it is): keys sorted, each after a space, and a space at the end, so that
    /// `" status=200 "` cannot match `upstreamStatus` nor `2001`.
    static func rendered(_ line: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            return line  // the text format
        }
        return "request" + object.keys.sorted().map { " \($0)=\(object[$0]!)" }.joined() + " "
    }
}

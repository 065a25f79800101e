import Foundation

/// A server-sent-event stream read by a curl process (`curl -sN`) into a file, for as long as the test runs.
final class EventStreamClient: Sendable {
    private let process: ChildProcess
    private let directory: URL
    let bodyPath: String
    let headerPath: String

    /// Starts reading `url` with the given request headers.
    init(_ url: String, headers: [String] = []) throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "corsproxy-sse-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.bodyPath = self.directory.appendingPathComponent("body").path
        self.headerPath = self.directory.appendingPathComponent("headers").path
        self.process = try ChildProcess(
            "/usr/bin/curl",
            ["-sN", "--max-time", "120", "-D", self.headerPath, "-o", self.bodyPath] + headers.flatMap { ["-H", $0] }
                + [url]
        )
    }

    /// Everything received so far.
    var text: String {
        (try? String(contentsOfFile: self.bodyPath, encoding: .utf8)) ?? ""
    }

    /// The response head's lines.
    var headerText: String {
        (try? String(contentsOfFile: self.headerPath, encoding: .utf8)) ?? ""
    }

    /// The `data:` events received so far, parsed.
    var events: [[String: Any]] {
        self.text.components(separatedBy: "\n").compactMap { line in
            guard line.hasPrefix("data: ") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
        }
    }

    /// Waits until `predicate` holds for the events received.
    func waitFor(
        timeout: Duration = .seconds(10),
        _ predicate: ([[String: Any]]) -> Bool
    ) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let events = self.events
            if predicate(events) { return events }
            guard ContinuousClock.now < deadline else {
                throw TestFailure("the event stream did not deliver what was expected: \(self.text.prefix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func stop() {
        self.process.kill()
        self.process.waitUntilExit()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

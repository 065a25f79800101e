import Foundation

/// `corsproxy demo` as its own process, started with `--port 0` (free ports) and more `arguments`; ``start``
/// returns once it has printed its `inspector:` line.
final class DemoProcess: Sendable {
    let process: ChildProcess
    private let stdoutData = LockedData()
    private let stderrData = LockedData()

    var stdout: String { String(decoding: self.stdoutData.value.withLockedValue { $0 }, as: UTF8.self) }
    var stderr: String { String(decoding: self.stderrData.value.withLockedValue { $0 }, as: UTF8.self) }

    private init(arguments: [String]) throws {
        self.process = try ChildProcess(
            try corsproxyExecutable(),
            ["demo"] + arguments,
            standardOutput: .pipe,
            standardError: .pipe
        )
        for (pipe, data) in [
            (self.process.standardOutput!, self.stdoutData), (self.process.standardError!, self.stderrData),
        ] {
            pipe.readabilityHandler = { handle in
                let chunk = handle.availableData
                data.value.withLockedValue { $0.append(chunk) }
            }
        }
    }

    /// Starts the demo and waits for its `inspector:` line (or its exit).
    static func start(arguments: [String] = ["--port", "0"]) async throws -> DemoProcess {
        let demo = try DemoProcess(arguments: arguments)
        let deadline = ContinuousClock.now + .seconds(20)
        while !demo.stdout.contains("\ninspector: ") {
            guard demo.process.isRunning else { return demo }
            guard ContinuousClock.now < deadline else {
                demo.process.terminate()
                throw TestFailure("corsproxy demo printed no inspector: line in 20 s; stdout:\n\(demo.stdout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return demo
    }

    /// The value of the stdout line that starts with `label` (`open:`, `inspector:`), without the label's padding.
    func line(_ label: String) -> String? {
        self.stdout.split(separator: "\n").first { $0.hasPrefix(label) }.map(String.init)
    }

    /// Waits for the exit status (SIGKILL after `timeout`).
    func waitForExit(timeout: Duration) async throws -> Int32 {
        guard let status = await self.process.waitForExit(killingAfter: timeout) else {
            throw TestFailure("corsproxy demo did not exit within \(timeout)")
        }
        return status
    }

    /// SIGKILL if still running.
    func forceStop() {
        self.process.kill()
    }
}

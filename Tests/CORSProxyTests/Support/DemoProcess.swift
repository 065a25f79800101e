import Foundation

/// `corsproxy demo` as its own process, started with `--port 0` (free ports) and more `arguments`; ``start``
/// returns once it has printed its `inspector:` line.
final class DemoProcess: Sendable {
    let process: Process
    private let stdoutData = LockedData()
    private let stderrData = LockedData()

    var stdout: String { String(decoding: self.stdoutData.value.withLockedValue { $0 }, as: UTF8.self) }
    var stderr: String { String(decoding: self.stderrData.value.withLockedValue { $0 }, as: UTF8.self) }

    private init(arguments: [String]) throws {
        self.process = Process()
        self.process.executableURL = URL(fileURLWithPath: try corsproxyExecutable())
        self.process.arguments = ["demo"] + arguments
        for (pipe, data) in [(Pipe(), self.stdoutData), (Pipe(), self.stderrData)] {
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let chunk = handle.availableData
                data.value.withLockedValue { $0.append(chunk) }
            }
            if data === self.stdoutData {
                self.process.standardOutput = pipe
            } else {
                self.process.standardError = pipe
            }
        }
        try self.process.run()
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
        let deadline = ContinuousClock.now + timeout
        while self.process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(self.process.processIdentifier, SIGKILL)
                throw TestFailure("corsproxy demo did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return self.process.terminationStatus
    }

    /// SIGKILL if still running.
    func forceStop() {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }
}

import Foundation
import Testing

/// The tests' own process launcher: exit statuses, signals, what the child inherits and what it does not.
@Suite("Child process")
struct ChildProcessTests {
    /// Runs `/bin/sh -c script` and returns its exit status and standard output.
    static func shell(
        _ script: String,
        environment: [String: String]? = nil,
        standardInput: ChildProcess.Stream = .inherit
    ) async throws -> (status: Int32, stdout: String) {
        let process = try ChildProcess(
            "/bin/sh",
            ["-c", script],
            environment: environment,
            standardInput: standardInput,
            standardOutput: .pipe
        )
        let output = process.standardOutput!
        let data = try await offCooperativePool { output.readDataToEndOfFile() }
        return (await process.waitForExit(), String(decoding: data, as: UTF8.self))
    }

    @Test("the exit status, or 128 + the signal that ended the child")
    func exitStatus() async throws {
        #expect(try await Self.shell("exit 3").status == 3)
        let sleeper = try ChildProcess("/bin/sleep", ["30"])
        #expect(sleeper.isRunning)
        sleeper.terminate()
        #expect(await sleeper.waitForExit() == 128 + SIGTERM)
        #expect(!sleeper.isRunning)
        let stuck = try ChildProcess("/bin/sleep", ["30"])
        #expect(await stuck.waitForExit(killingAfter: .milliseconds(100)) == nil)
        #expect(await stuck.waitForExit() == 128 + SIGKILL)
    }

    @Test("the child gets the environment and standard input it is given")
    func environmentAndInput() async throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID())").path
        try Data("from a file\n".utf8).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: input) }
        let result = try await Self.shell(
            #"read line; echo "$GREETING, $line""#,
            environment: ["GREETING": "hello"],
            standardInput: .file(input)
        )
        #expect(result.status == 0)
        #expect(result.stdout == "hello, from a file\n")
    }

    @Test("no descriptor of the test process leaks into the child; no signal is blocked there, none of 1–31 ignored")
    func cleanStart() async throws {
        // Without O_CLOEXEC: only the launcher's closefrom keeps it out of the child.
        let fd = open("/dev/null", O_RDONLY)
        try #require(fd > 2)
        defer { close(fd) }
        signal(SIGPIPE, SIG_IGN)  // as the tests' curlGlobal does
        let result = try await Self.shell(
            #"test -e /proc/self/fd/\#(fd) && echo leaked; grep -E '^Sig(Ign|Blk)' /proc/self/status"#
        )
        #expect(result.status == 0)
        let masks = result.stdout.split(separator: "\n").map { $0.split(separator: "\t") }
        try #require(masks.count == 2 && masks.allSatisfy { $0.count == 2 }, "\(result.stdout)")
        #expect(masks[0] == ["SigBlk:", "0000000000000000"])
        // glibc's posix_spawn leaves its own signals 32 and 33 (SIGCANCEL, SIGSETXID) ignored in every child.
        #expect(UInt64(masks[1][1], radix: 16).map { $0 & 0x7fff_ffff } == 0, "\(result.stdout)")
    }
}

import Foundation

/// A response as the curl command-line client saw it.
struct HTTPResult: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: Data
    var exitCode: Int32

    /// The first value of a header, by case-insensitive name.
    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of a header, by case-insensitive name.
    func headers(_ name: String) -> [String] {
        self.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    var text: String { String(decoding: self.body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: self.body) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(self.text)")
        }
        return object
    }
}

/// Runs the curl command-line client: a real, independent HTTP client, whatever the proxy does inside.
/// - Parameters:
///   - url: The URL to request.
///   - method: Sent with `-X` (HEAD uses `--head`).
///   - headers: Request headers, `Name: value`.
///   - body: A request body file (`--data-binary @file`), if any.
///   - extra: More curl arguments.
func http(
    _ url: String,
    method: String = "GET",
    headers: [String] = [],
    bodyFile: String? = nil,
    extra: [String] = []
) async throws -> HTTPResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("corsproxy-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let headerFile = directory.appendingPathComponent("headers").path
    let bodyOut = directory.appendingPathComponent("body").path
    var arguments = ["-sS", "-D", headerFile, "-o", bodyOut, "--max-time", "60"]
    if method == "HEAD" {
        arguments.append("--head")
    } else if method != "GET" || bodyFile != nil {
        arguments += ["-X", method]
    }
    for header in headers { arguments += ["-H", header] }
    if let bodyFile { arguments += ["--data-binary", "@\(bodyFile)"] }
    arguments += extra
    arguments.append(url)
    let exitCode = try await run("/usr/bin/curl", arguments)
    let rawHeaders = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
    let body = FileManager.default.contents(atPath: bodyOut) ?? Data()
    // The last head wins (1xx heads come first).
    let blocks = rawHeaders.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
    var status = 0
    var headers: [(name: String, value: String)] = []
    if let last = blocks.last {
        let lines = last.components(separatedBy: "\r\n")
        status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            )
        }
    }
    return HTTPResult(status: status, headers: headers, body: body, exitCode: exitCode)
}

/// Runs a program to completion and returns its exit status; output goes to the test's own stdout/stderr
/// unless redirected by `stdout` or the arguments.
@discardableResult
func run(_ executable: String, _ arguments: [String], stdout: ChildProcess.Stream = .inherit) async throws -> Int32 {
    try await ChildProcess(executable, arguments, standardOutput: stdout).waitForExit()
}

/// A file of `count` pattern bytes (``TestUpstream/pattern(offset:count:)``), for uploads.
func patternFile(count: Int) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("corsproxy-upload-\(UUID().uuidString)")
        .path
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    var offset = 0
    while offset < count {
        let n = min(1 << 20, count - offset)
        try handle.write(contentsOf: TestUpstream.pattern(offset: offset, count: n))
        offset += n
    }
    try handle.close()
    return path
}

import Glibc

/// Whole lines to standard output and standard error, each written at once with `write(2)`: the ready line is
/// read by scripts and tests the moment it appears, and nothing is buffered.
enum Console {
    static func out(_ line: String) {
        self.write(line, to: STDOUT_FILENO)
    }

    static func error(_ line: String) {
        self.write(line, to: STDERR_FILENO)
    }

    private static func write(_ line: String, to descriptor: Int32) {
        var bytes = Array((line + "\n").utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 || (written < 0 && errno == EINTR) else { return }
            bytes = bytes.dropFirst(max(written, 0))
        }
    }
}

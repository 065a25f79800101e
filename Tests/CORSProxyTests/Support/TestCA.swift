import Foundation

/// A throwaway certificate authority made with the `openssl` command line in a temporary directory, issuing leaf
/// certificates for 127.0.0.1 that a client trusting ``certificate`` accepts.
final class TestCA: Sendable {
    let directory: String
    /// The CA's certificate, for `curl --cacert` and the test client's trust roots.
    var certificate: String { "\(self.directory)/ca.pem" }

    private init(directory: String) {
        self.directory = directory
    }

    /// A leaf certificate and its key, as files.
    struct Leaf: Sendable {
        var certificate: String
        var privateKey: String
        /// The serial number as the test client reads it: lowercase hex, no leading zeros.
        var serial: String
    }

    static func make() async throws -> TestCA {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "corsproxy-tls-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ca = TestCA(directory: directory)
        try await ca.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem", "-days", "2",
            "-subj", "/CN=corsproxy test CA",
        ])
        let extensions = """
            subjectAltName = IP:127.0.0.1, DNS:localhost
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            """
        try Data(extensions.utf8).write(to: URL(fileURLWithPath: "\(directory)/leaf.cnf"))
        return ca
    }

    /// Issues a leaf certificate for 127.0.0.1 with serial `serial` (hex) and subject CN `name`, with a new key.
    func issue(_ name: String, serial: UInt32) async throws -> Leaf {
        let base = "\(self.directory)/\(name)"
        try await self.openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(base).key", "-out", "\(base).csr", "-subj", "/CN=\(name)",
        ])
        try await self.openssl([
            "x509", "-req", "-in", "\(base).csr", "-CA", self.certificate, "-CAkey", "\(self.directory)/ca.key",
            "-set_serial", "0x" + String(serial, radix: 16), "-days", "2", "-out", "\(base).pem",
            "-extfile", "\(self.directory)/leaf.cnf",
        ])
        return Leaf(certificate: "\(base).pem", privateKey: "\(base).key", serial: String(serial, radix: 16))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    private func openssl(_ arguments: [String]) async throws {
        let status = try await run("/usr/bin/openssl", arguments, stdout: .file("\(self.directory)/openssl.log"))
        guard status == 0 else { throw TestFailure("openssl \(arguments.joined(separator: " ")) failed") }
    }
}

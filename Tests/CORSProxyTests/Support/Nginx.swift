import Foundation
import NIOCore
import NIOPosix

/// Debian's nginx, started on a free loopback port with a config written by the test: a real upstream peer
/// for what the in-process upstream does not speak (HTTP/2).
final class Nginx: Sendable {
    let port: Int
    let isTLS: Bool
    private let process: ChildProcess
    let directory: String

    var url: String { "\(self.isTLS ? "https" : "http")://127.0.0.1:\(self.port)" }
    /// The self-signed certificate nginx serves with TLS, for `caFile`.
    var certificate: String { "\(self.directory)/cert.pem" }

    private init(port: Int, isTLS: Bool, process: ChildProcess, directory: String) {
        self.port = port
        self.isTLS = isTLS
        self.process = process
        self.directory = directory
    }

    /// Starts nginx with `server` as the body of its one `server {}` block; `PORT` in it is replaced. With
    /// `tls`, a self-signed certificate for 127.0.0.1 is made, and `CERT` and `KEY` are replaced by its files.
    static func start(server: String, tls: Bool = false, certificate: TestCertificate = .valid) async throws -> Nginx {
        let port = try await freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "corsproxy-nginx-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if tls {
            try await certificate.make(certificate: "\(directory)/cert.pem", key: "\(directory)/key.pem")
        }
        let server = server.replacingOccurrences(of: "CERT", with: "\(directory)/cert.pem")
            .replacingOccurrences(of: "KEY", with: "\(directory)/key.pem")
        let config = """
            daemon off; master_process off; worker_processes 1;
            error_log \(directory)/error.log; pid \(directory)/nginx.pid;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(directory)/body; proxy_temp_path \(directory)/proxy;
                fastcgi_temp_path \(directory)/fastcgi; uwsgi_temp_path \(directory)/uwsgi; scgi_temp_path \(directory)/scgi;
                server { \(server.replacingOccurrences(of: "PORT", with: "\(port)")) }
            }
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(directory)/nginx.conf"))
        let process = try ChildProcess(
            "/usr/sbin/nginx",
            ["-p", directory, "-c", "\(directory)/nginx.conf", "-e", "\(directory)/error.log"]
        )
        let nginx = Nginx(port: port, isTLS: tls, process: process, directory: directory)
        do {
            let deadline = ContinuousClock.now + .seconds(10)
            while try await http(nginx.url + "/", extra: ["--max-time", "1", "-k"]).status == 0 {
                guard process.isRunning, ContinuousClock.now < deadline else {
                    let log = (try? String(contentsOfFile: "\(directory)/error.log", encoding: .utf8)) ?? ""
                    throw TestFailure("nginx did not start: \(log)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        } catch {
            // Not ready in time, or the wait was cancelled: nginx may be running all the same.
            nginx.stop()
            throw error
        }
        return nginx
    }

    /// Kills nginx (it is a throwaway test peer; nothing to drain) and removes its directory.
    func stop() {
        self.process.kill()
        self.process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(
            host: "127.0.0.1",
            port: 0
        ).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}

/// A self-signed test certificate, made by the test with Debian's `python3-cryptography`.
enum TestCertificate {
    /// Valid now, for 127.0.0.1 and localhost.
    case valid
    /// Valid for another host name only.
    case wrongHost
    /// Expired yesterday.
    case expired

    func make(certificate: String, key: String) async throws {
        let (names, notBefore, notAfter): (String, String, String) =
            switch self {
            case .valid:
                (
                    "[x509.IPAddress(ipaddress.ip_address('127.0.0.1')), x509.DNSName('localhost')]", "now - day",
                    "now + 2 * day"
                )
            case .wrongHost: ("[x509.DNSName('other.example')]", "now - day", "now + 2 * day")
            case .expired: ("[x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]", "now - 3 * day", "now - day")
            }
        let script = """
            import datetime, ipaddress, sys
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'corsproxy test')])
            now = datetime.datetime.now(datetime.timezone.utc); day = datetime.timedelta(days=1)
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(\(notBefore)).not_valid_after(\(notAfter))
                .add_extension(x509.SubjectAlternativeName(\(names)), critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
            open(sys.argv[1], 'wb').write(cert.public_bytes(serialization.Encoding.PEM))
            open(sys.argv[2], 'wb').write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            """
        let status = try await run("/usr/bin/python3", ["-c", script, certificate, key])
        guard status == 0 else {
            throw TestFailure("could not make a test certificate (needs Debian's python3-cryptography)")
        }
    }
}

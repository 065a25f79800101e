internal import FoundationEssentials
internal import NIOSSL

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A certificate chain and its private key, read from the two PEM files of `tls`, checked, and made into the
/// server-side `NIOSSLContext` that new connections handshake with.
///
/// Both files are read once and everything is built from those same bytes, so the pair that was checked is the
/// pair that serves. A pair is refused when a file cannot be read, is not PEM of the right kind, or the key is not
/// the certificate's. That last check is BoringSSL's: `SSL_CTX_use_PrivateKey` compares the key with the public key
/// of the certificate set before it (`ssl_compare_public_and_private_key`, `X509_R_KEY_VALUES_MISMATCH`), for
/// every key type, and NIOSSL reports it as `failedToLoadPrivateKey`. The key having parsed on its own just
/// before, that error can only mean the pair, and is reported as such (`TLSListenerTests` proves the refusal).
public struct CertificatePair: Sendable {
    /// The context a ``NIOSSLServerHandler`` is made from: TLS 1.2 and later, ALPN `http/1.1`.
    let context: NIOSSLContext
    /// The leaf certificate's `notAfter`.
    let notValidAfter: Date
    /// The leaf certificate's serial number in hex, for log lines.
    let serialNumber: String

    /// Why a pair cannot serve: one or more problems, each tied to the file (and config key) it is about.
    public struct Refusal: Error, Hashable, CustomStringConvertible {
        /// Which of the two files a problem is about, named as its key under `tls`.
        public enum File: String, Hashable, Sendable {
            case certificate
            case privateKey
        }

        /// One problem with one file.
        public struct Problem: Hashable, Sendable {
            public var file: File
            public var message: String
        }

        public var problems: [Problem]

        /// One line: `tls.certificate: …; tls.privateKey: …`.
        public var description: String {
            self.problems.map { "tls.\($0.file.rawValue): \($0.message)" }.joined(separator: "; ")
        }
    }

    /// Reads and checks the pair.
    /// - Parameters:
    ///   - certificate: A PEM file: the leaf certificate first, then any intermediates.
    ///   - privateKey: A PEM file holding the leaf certificate's private key (PKCS#8, SEC1 or PKCS#1).
    /// - Throws: ``Refusal`` naming every problem found.
    static func load(certificate: String, privateKey: String) throws(Refusal) -> CertificatePair {
        var problems: [Refusal.Problem] = []
        func fail(_ file: Refusal.File, _ message: String) {
            problems.append(.init(file: file, message: message))
        }

        var chain: [NIOSSLCertificate] = []
        switch Self.read(certificate) {
        case .failure(let failure):
            fail(.certificate, failure.message)
        case .success(let bytes):
            let text = String(decoding: bytes, as: UTF8.self)
            if !text.contains("-----BEGIN CERTIFICATE-----") {
                fail(.certificate, "\"\(certificate)\" is not a PEM certificate (no BEGIN CERTIFICATE block)")
            } else if let parsed = try? NIOSSLCertificate.fromPEMBytes(bytes), !parsed.isEmpty {
                chain = parsed
            } else {
                fail(.certificate, "\"\(certificate)\" is not a valid PEM certificate (cut short or corrupt?)")
            }
        }

        var key: NIOSSLPrivateKey?
        switch Self.read(privateKey) {
        case .failure(let failure):
            fail(.privateKey, failure.message)
        case .success(let bytes):
            let keyText = String(decoding: bytes, as: UTF8.self)
            if !keyText.contains("-----BEGIN") || !keyText.contains("PRIVATE KEY-----") {
                fail(.privateKey, "\"\(privateKey)\" is not a PEM private key (no BEGIN … PRIVATE KEY block)")
            } else if let parsed = try? NIOSSLPrivateKey(bytes: bytes, format: .pem) {
                key = parsed
            } else {
                fail(
                    .privateKey,
                    "\"\(privateKey)\" is not a valid PEM private key (cut short, corrupt, or encrypted?)"
                )
            }
        }

        guard problems.isEmpty, let leaf = chain.first, let key else { throw Refusal(problems: problems) }

        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // The key parsed on its own, so what BoringSSL refused is the pair.
            throw Refusal(problems: [
                .init(
                    file: .privateKey,
                    message:
                        "\"\(privateKey)\" is not the private key of the certificate in \"\(certificate)\" (their public keys differ)"
                )
            ])
        } catch {
            throw Refusal(problems: [.init(file: .privateKey, message: "the TLS library refused the pair: \(error)")])
        }
        return CertificatePair(
            context: context,
            notValidAfter: Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)),
            serialNumber: leaf.serialNumber.map { Self.hex($0) }.joined()
        )
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    /// Why a file cannot be had: `cannot read "…": No such file or directory`.
    struct ReadFailure: Error {
        var message: String

        init(_ message: String) {
            self.message = message
        }
    }

    /// The whole file, or why it cannot be had.
    static func read(_ path: String) -> Result<[UInt8], ReadFailure> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(ReadFailure("cannot read \"\(path)\": \(Self.lastError())")) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure("cannot read \"\(path)\": \(Self.lastError())"))
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            // Certificates and keys are a few KiB; a bigger file is a wrong path.
            guard bytes.count <= 1 << 20 else {
                return .failure(ReadFailure("\"\(path)\" is over 1 MiB: not a PEM file"))
            }
        }
        return .success(bytes)
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}

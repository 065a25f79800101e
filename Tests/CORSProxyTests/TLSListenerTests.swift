import CORSProxy
import Foundation
import NIOConcurrencyHelpers
import Testing

/// HTTPS on the proxy's own listener (`tls`): real certificates from a test CA made with `openssl`, real TLS
/// clients (curl, and a NIOSSL client that records which certificate each handshake got), a real upstream.
@Suite("TLS on the listener")
struct TLSListenerTests {
    static func config(upstream: String, certificate: String, privateKey: String) -> String {
        testConfig(
            upstream: upstream,
            extra: #""tls": {"certificate": "\#(certificate)", "privateKey": "\#(privateKey)"}"#
        )
    }

    @Test(
        "serve speaks HTTPS with a config-relative pair: ready line https, curl through to the upstream, TLS 1.2+, ALPN http/1.1; plain HTTP and garbage fail alone"
    )
    func servesHTTPS() async throws {
        let ca = try await TestCA.make()
        defer { ca.remove() }
        let leaf = try await ca.issue("leaf", serial: 0x1001)
        // withProxyProcess writes the config into the temporary directory, the CA's parent: relative paths.
        let relative = URL(fileURLWithPath: ca.directory).lastPathComponent
        try await withUpstream { upstream in
            let config = Self.config(
                upstream: upstream.url,
                certificate: "\(relative)/leaf.pem",
                privateKey: "\(relative)/leaf.key"
            )
            try await withProxyProcess(configJSON: config) { proxy in
                #expect(proxy.scheme == "https", "the ready line says https")
                let result = try await http(proxy.url + "/echo/1", extra: ["--cacert", ca.certificate])
                #expect(result.status == 200, "\(result.exitCode)")
                let forwarded = upstream.record.withLockedValue { $0.requests.last?.headers ?? [] }
                #expect(forwarded.contains { $0.0.lowercased() == "x-forwarded-proto" && $0.1 == "https" })

                let probe = try TLSProbe(caFile: ca.certificate)
                let handshake = try await probe.handshake(port: proxy.port)
                #expect(handshake.serial == leaf.serial)
                #expect(handshake.alpn == "http/1.1")
                let old = try TLSProbe(caFile: ca.certificate, maximumVersion: .tlsv11)
                await #expect(throws: (any Error).self, "TLS 1.1 is refused") {
                    try await old.handshake(port: proxy.port)
                }

                // Plain HTTP to the TLS port fails; a client sending garbage and holding its connection open
                // does not stop the next TLS client.
                let plain = try await http("http://127.0.0.1:\(proxy.port)/echo/2", extra: ["--max-time", "5"])
                #expect(plain.status == 0 && plain.exitCode != 0)
                let garbage = try RawClient(port: proxy.port)
                defer { garbage.close() }
                try garbage.send("\u{16}\u{03}\u{01}\u{00}\u{40}not a client hello")
                let after = try await http(proxy.url + "/echo/3", extra: ["--cacert", ca.certificate])
                #expect(after.status == 200)
                #expect(upstream.record.withLockedValue { $0.requests.map(\.uri) } == ["/echo/1", "/echo/3"])
            }
        }
    }

    /// How the files the config names are replaced.
    enum Rotation: String, CaseIterable, CustomTestStringConvertible {
        /// The same files truncated and rewritten, certificate first, then key.
        case inPlace = "rewritten in place"
        /// New files written beside them and renamed over them, one after the other.
        case rename = "renamed over"
        /// A Kubernetes secret volume: `tls.crt -> ..data/tls.crt`, `..data -> ..TIMESTAMP/`, the `..data`
        /// symlink swapped by rename (certbot's `live/` links work the same way).
        case symlinkSwap = "symlink swap"

        var testDescription: String { self.rawValue }
    }

    @Test(
        "a replaced pair serves new handshakes within 2 s, with no failed handshake meanwhile",
        arguments: Rotation.allCases
    )
    func rotation(_ rotation: Rotation) async throws {
        let ca = try await TestCA.make()
        defer { ca.remove() }
        let first = try await ca.issue("first", serial: 0xA001)
        let second = try await ca.issue("second", serial: 0xB002)
        let slot = try ServingSlot(rotation, directory: "\(ca.directory)/serving")
        try slot.install(first)
        try await withUpstream { upstream in
            let config = Self.config(
                upstream: upstream.url,
                certificate: slot.certificate,
                privateKey: slot.privateKey
            )
            try await withProxy(config) { proxy in
                let probe = try TLSProbe(caFile: ca.certificate)
                #expect(try await probe.handshake(port: proxy.port).serial == first.serial)
                let swapped = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
                let log = try await handshaking(port: proxy.port, probe: probe) { log in
                    try await log.wait { $0.count >= 50 }
                    swapped.withLockedValue { $0 = .now }
                    try slot.install(second)
                    try await log.wait { entries in
                        guard let new = entries.firstIndex(where: { $0.serial == second.serial }) else { return false }
                        return entries.count >= 200 && entries.count - new >= 100
                    }
                }
                let failures = log.filter { $0.serial == nil }
                #expect(failures.isEmpty, "failed handshakes: \(failures.prefix(5).map { $0.error ?? "" })")
                #expect(log.count >= 200)
                let swapTime = try #require(swapped.withLockedValue { $0 })
                let firstNew = try #require(log.first { $0.serial == second.serial })
                let pickup = firstNew.end - swapTime
                print("TLS rotation (\(rotation.rawValue)): \(log.count) handshakes, new certificate after \(pickup)")
                #expect(pickup < .seconds(2))
                let stale = log.filter { $0.serial == first.serial && $0.start > firstNew.end + .milliseconds(100) }
                #expect(stale.isEmpty, "the old certificate after the new one: \(stale.count)")
                #expect(log.allSatisfy { $0.serial == nil || $0.serial == first.serial || $0.serial == second.serial })

                let status = try #require(proxy.certificates?.status)
                #expect(status.reloadsSucceeded == 1 && status.reloadsFailed == 0, "\(status)")
                #expect(status.notValidAfter.map { $0 > Date() } == true)
                let line = try await proxy.logLine(containing: "TLS certificate reloaded")
                #expect(line.contains("tls.serial=\(second.serial)"))
                let result = try await http(proxy.url + "/echo", extra: ["--cacert", ca.certificate])
                #expect(result.status == 200)
            }
        }
    }

    @Test(
        "a mismatched, missing or half-written pair is refused: logged once with the reason, counted, the old certificate keeps serving"
    )
    func refusedPairs() async throws {
        let ca = try await TestCA.make()
        defer { ca.remove() }
        let first = try await ca.issue("first", serial: 0xA001)
        let second = try await ca.issue("second", serial: 0xB002)
        let third = try await ca.issue("third", serial: 0xC003)
        let slot = try ServingSlot(.rename, directory: "\(ca.directory)/serving")
        try slot.install(first)
        try await withUpstream { upstream in
            let config = Self.config(
                upstream: upstream.url,
                certificate: slot.certificate,
                privateKey: slot.privateKey
            )
            try await withProxy(config) { proxy in
                let probe = try TLSProbe(caFile: ca.certificate)
                let store = try #require(proxy.certificates)
                func serving() async throws -> [String] {
                    var serials: [String] = []
                    for _ in 0..<5 { serials.append(try await probe.handshake(port: proxy.port).serial) }
                    return serials
                }
                func waitFor(_ what: String, _ condition: (CertificateStore.Status) -> Bool) async throws {
                    let deadline = ContinuousClock.now + .seconds(5)
                    while !condition(store.status) {
                        guard ContinuousClock.now < deadline else { throw TestFailure("not seen: \(what)") }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                let refused = "TLS certificate pair refused; the old certificate keeps serving"

                // The key of another certificate.
                try slot.install(certificate: second.certificate, privateKey: third.privateKey)
                try await waitFor("the mismatch refused") { $0.reloadsFailed == 1 }
                let mismatch = try await proxy.logLine(containing: refused)
                #expect(
                    mismatch.contains(
                        "tls.reason=tls.privateKey: \"\(slot.privateKey)\" is not the private key of the certificate"
                    )
                )
                #expect(try await serving() == Array(repeating: first.serial, count: 5))

                // A good pair again, then its key file gone.
                try slot.install(second)
                try await waitFor("the good pair loaded") { $0.reloadsSucceeded == 1 }
                #expect(try await serving() == Array(repeating: second.serial, count: 5))
                try FileManager.default.removeItem(atPath: slot.privateKey)
                try await waitFor("the missing key refused") { $0.reloadsFailed == 2 }
                let missing = try await proxy.logLine(containing: "No such file or directory")
                #expect(missing.hasPrefix(refused))
                #expect(try await serving() == Array(repeating: second.serial, count: 5))

                // The key back, and a certificate cut off halfway through its writing.
                try FileManager.default.copyItem(atPath: third.privateKey, toPath: slot.privateKey)
                let pem = try Data(contentsOf: URL(fileURLWithPath: third.certificate))
                try pem.prefix(pem.count / 2).write(to: URL(fileURLWithPath: slot.certificate))
                try await waitFor("the half-written certificate refused") { $0.reloadsFailed == 3 }
                let half = try await proxy.logLine(containing: "is not a valid PEM certificate")
                #expect(half.hasPrefix(refused))
                #expect(try await serving() == Array(repeating: second.serial, count: 5))

                // Unchanged files are not tried again: each refusal was counted and logged once.
                let polls = ContinuousClock.now + store.pollInterval * 4
                while ContinuousClock.now < polls { try await Task.sleep(for: .milliseconds(50)) }
                #expect(store.status.reloadsFailed == 3 && store.status.reloadsSucceeded == 1, "\(store.status)")
                #expect(proxy.logLines.filter { $0.hasPrefix(refused) }.count == 3)
            }
        }
    }

    @Test("the certificate's expiry is a metric on the admin listener")
    func expiryMetric() async throws {
        let ca = try await TestCA.make()
        defer { ca.remove() }
        let leaf = try await ca.issue("leaf", serial: 0x3001)
        try await withUpstream { upstream in
            let config = testConfig(
                upstream: upstream.url,
                extra:
                    #""tls": {"certificate": "\#(leaf.certificate)", "privateKey": "\#(leaf.privateKey)"}, "admin": {"listen": "127.0.0.1:0"}"#
            )
            try await withProxyProcess(configJSON: config, hasAdminListener: true) { proxy in
                let scrape = try await http(proxy.adminURL + "/metrics")
                let line = try #require(
                    scrape.text.split(separator: "\n").first {
                        $0.hasPrefix("corsproxy_tls_certificate_expiry_timestamp_seconds ")
                    },
                    "\(scrape.text)"
                )
                let expiry = try #require(Double(line.split(separator: " ").last ?? ""))
                // The test CA issues for 2 days.
                let inTwoDays = Date().timeIntervalSince1970 + 2 * 86_400
                #expect(abs(expiry - inTwoDays) < 3_600, "\(line)")
            }
        }
    }

    @Test("a bad pair stops serve and validate with one line per problem naming its key path")
    func badPairAtStartup() async throws {
        let ca = try await TestCA.make()
        defer { ca.remove() }
        let first = try await ca.issue("first", serial: 0xA001)
        let second = try await ca.issue("second", serial: 0xB002)
        let mismatched = try CommandLineTests.writeTemporary(
            Self.config(upstream: "http://127.0.0.1:9", certificate: first.certificate, privateKey: second.privateKey)
        )
        let expected =
            "\(mismatched): tls.privateKey: \"\(second.privateKey)\" is not the private key of the certificate in \"\(first.certificate)\" (their public keys differ)"
        for arguments in [["serve", "--listen", "127.0.0.1:0"], ["validate"]] {
            let result = try await CommandLineTests.corsproxy(arguments + ["--config", mismatched])
            #expect(result.status == 1)
            #expect(result.stderr.split(separator: "\n").map(String.init) == [expected], "\(arguments[0])")
            #expect(result.stdout.isEmpty)
        }

        let notPEM = "\(ca.directory)/leaf.cnf"
        let broken = try CommandLineTests.writeTemporary(
            Self.config(upstream: "http://127.0.0.1:9", certificate: "\(ca.directory)/nope.pem", privateKey: notPEM)
        )
        let result = try await CommandLineTests.corsproxy(["validate", "--config", broken])
        #expect(result.status == 1)
        #expect(
            result.stderr.split(separator: "\n").map(String.init) == [
                "\(broken): tls.certificate: cannot read \"\(ca.directory)/nope.pem\": No such file or directory",
                "\(broken): tls.privateKey: \"\(notPEM)\" is not a PEM private key (no BEGIN … PRIVATE KEY block)",
            ]
        )
    }
}

/// The files a config's `tls` names, and a way of replacing them.
struct ServingSlot {
    let rotation: TLSListenerTests.Rotation
    let directory: String
    var certificate: String { "\(self.directory)/tls.crt" }
    var privateKey: String { "\(self.directory)/tls.key" }
    private let generation = NIOLockedValueBox(0)

    init(_ rotation: TLSListenerTests.Rotation, directory: String) throws {
        self.rotation = rotation
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func install(_ leaf: TestCA.Leaf) throws {
        try self.install(certificate: leaf.certificate, privateKey: leaf.privateKey)
    }

    func install(certificate: String, privateKey: String) throws {
        let files = [
            (try Data(contentsOf: URL(fileURLWithPath: certificate)), "tls.crt"),
            (try Data(contentsOf: URL(fileURLWithPath: privateKey)), "tls.key"),
        ]
        let generation = self.generation.withLockedValue {
            $0 += 1
            return $0
        }
        let manager = FileManager.default
        switch self.rotation {
        case .inPlace:
            for (data, name) in files {
                let path = "\(self.directory)/\(name)"
                guard let handle = FileHandle(forWritingAtPath: path) else {
                    try data.write(to: URL(fileURLWithPath: path))
                    continue
                }
                let inode = try manager.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
                try handle.truncate(atOffset: 0)
                try handle.write(contentsOf: data)
                try handle.close()
                #expect(try manager.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == inode)
            }
        case .rename:
            for (data, name) in files {
                try data.write(to: URL(fileURLWithPath: "\(self.directory)/.\(name).new"))
                guard Foundation.rename("\(self.directory)/.\(name).new", "\(self.directory)/\(name)") == 0 else {
                    throw TestFailure("rename failed")
                }
            }
        case .symlinkSwap:
            let version = "..2026_01_01_00_00_0\(generation)"
            try manager.createDirectory(atPath: "\(self.directory)/\(version)", withIntermediateDirectories: false)
            for (data, name) in files {
                try data.write(to: URL(fileURLWithPath: "\(self.directory)/\(version)/\(name)"))
            }
            try manager.createSymbolicLink(atPath: "\(self.directory)/..data_tmp", withDestinationPath: version)
            guard Foundation.rename("\(self.directory)/..data_tmp", "\(self.directory)/..data") == 0 else {
                throw TestFailure("rename failed")
            }
            if generation == 1 {
                for (_, name) in files {
                    try manager.createSymbolicLink(
                        atPath: "\(self.directory)/\(name)",
                        withDestinationPath: "..data/\(name)"
                    )
                }
            }
        }
    }
}

/// One handshake of the loop: when it started and ended, and the serial it saw or why it failed.
struct HandshakeEntry: Sendable {
    var start: ContinuousClock.Instant
    var end: ContinuousClock.Instant
    var serial: String?
    var error: String?
}

/// The handshakes made so far, appended by the client tasks.
final class HandshakeLog: Sendable {
    let entries = NIOLockedValueBox<[HandshakeEntry]>([])

    /// Waits until `condition` holds for the entries so far (10 s at most).
    func wait(_ condition: ([HandshakeEntry]) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !self.entries.withLockedValue({ condition($0) }) {
            guard ContinuousClock.now < deadline else {
                let serials = self.entries.withLockedValue { Set($0.map { $0.serial ?? "failed" }) }
                throw TestFailure("handshake log condition not met within 10 s; seen \(serials)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Runs `clients` loops, each making one new TLS connection after another, while `body` runs; returns every
/// handshake in order of completion.
func handshaking(
    port: Int,
    probe: TLSProbe,
    clients: Int = 2,
    _ body: (HandshakeLog) async throws -> Void
) async throws -> [HandshakeEntry] {
    let log = HandshakeLog()
    let stop = NIOLockedValueBox(false)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<clients {
            group.addTask {
                while !stop.withLockedValue({ $0 }) {
                    let start = ContinuousClock.now
                    var entry = HandshakeEntry(start: start, end: start)
                    do {
                        entry.serial = try await probe.handshake(port: port).serial
                    } catch {
                        entry.error = "\(error)"
                    }
                    entry.end = .now
                    log.entries.withLockedValue { $0.append(entry) }
                }
            }
        }
        do {
            try await body(log)
        } catch {
            stop.withLockedValue { $0 = true }
            throw error
        }
        stop.withLockedValue { $0 = true }
        try await group.waitForAll()
    }
    return log.entries.withLockedValue { $0 }
}

import Crypto
import Foundation
import Testing

/// Bodies stream both ways with back-pressure; nothing is lost, nothing is buffered whole.
@Suite("Streaming and back-pressure")
struct StreamingTests {
    static let size = 64 * 1024 * 1024

    @Test("a 64 MiB download arrives whole: SHA-256 verified at the client")
    func download() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(
                    proxy.url + "/bytes/\(Self.size)",
                    headers: ["Origin: http://localhost:3000"]
                )
                #expect(result.status == 200)
                #expect(result.body.count == Self.size)
                #expect(SHA256.hash(data: result.body).hex == TestUpstream.patternSHA256(count: Self.size))
                #expect(result.header("Access-Control-Allow-Origin") == "http://localhost:3000")
            }
        }
    }

    @Test(
        "a 64 MiB upload arrives whole: SHA-256 verified at the upstream, sized and chunked",
        arguments: [false, true]
    )
    func upload(chunked: Bool) async throws {
        let file = try patternFile(count: Self.size)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(
                    proxy.url + "/slow-read/upload",
                    method: "PUT",
                    headers: chunked ? ["Transfer-Encoding: chunked"] : [],
                    bodyFile: file
                )
                #expect(result.status == 200)
                let json = try result.json()
                #expect(json["bodyLength"] as? Int == Self.size)
                #expect(json["bodySHA256"] as? String == TestUpstream.patternSHA256(count: Self.size))
            }
        }
    }

    @Test("a slow client slows the upstream: the proxy holds a bounded number of bytes in flight")
    func slowClientPausesUpstream() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                // The client reads at 1 MiB/s for 4 s; the upstream could send 256 MiB in that time.
                let result = try await http(
                    proxy.url + "/bytes/\(256 * 1024 * 1024)",
                    extra: ["--limit-rate", "1M", "--max-time", "4"]
                )
                #expect(result.exitCode == 28, "curl stops at --max-time")
                let received = result.body.count
                let streamed = upstream.bytesStreamed
                // What the upstream wrote = what the client took + the proxy's window (256 KiB in the transfer,
                // libcurl's 64 KiB buffer) + four loopback socket buffers, which Linux autotunes up to several MiB
                // each. Without pausing it is nearly all 256 MiB.
                #expect(received > 0)
                #expect(
                    streamed - received < 32 * 1024 * 1024,
                    "upstream streamed \(streamed), client received \(received)"
                )
            }
        }
    }

    @Test("a client that disconnects mid-download cancels the upstream transfer at once")
    func clientAbortCancelsUpstream() async throws {
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(proxy.url + "/infinite", extra: ["--max-time", "1"])
                #expect(result.exitCode == 28)
                // Without cancellation the transfer would run until the proxy shuts down.
                try await upstream.waitFor("the upstream connection to close", timeout: .seconds(3)) {
                    $0.connectionsClosed == 1
                }
                let line = try await proxy.logLine()
                #expect(line.contains("note=client closed the connection"))
                // The proxy keeps serving, on a new upstream connection (the broken one was not reused).
                let next = try await http(proxy.url + "/echo")
                #expect(next.status == 200)
                #expect(upstream.connectionsOpened == 2)
            }
        }
    }

    @Test("a client that disconnects mid-upload cancels the upstream transfer")
    func clientAbortDuringUpload() async throws {
        let file = try patternFile(count: Self.size)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await withUpstream { upstream in
            try await withProxy(testConfig(upstream: upstream.url)) { proxy in
                let result = try await http(
                    proxy.url + "/slow-read/upload",
                    method: "POST",
                    bodyFile: file,
                    extra: ["--limit-rate", "2M", "--max-time", "1"]
                )
                #expect(result.exitCode == 28)
                try await upstream.waitFor("the upstream connection to close", timeout: .seconds(3)) {
                    $0.connectionsClosed == 1
                }
                #expect(upstream.requests.isEmpty, "the upstream never saw a complete request")
            }
        }
    }
}

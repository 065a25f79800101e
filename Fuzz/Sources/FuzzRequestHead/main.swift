@_spi(Fuzzing) import CORSProxy
import FuzzDriver
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// libFuzzer: raw bytes through NIO's request decoder (as the server pipeline has it), then every decoded head
/// through the proxy's request plan: routing, host and origin checks, header filtering, log redaction.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzRequestHead(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish() }
    guard (try? channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))) != nil else {
        return 0
    }
    var buffer = channel.allocator.buffer(capacity: count)
    buffer.writeBytes(UnsafeBufferPointer(start: data, count: count))
    _ = try? channel.writeInbound(buffer)
    while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
        if case .head(let head) = part { FuzzingEntryPoints.requestHead(head) }
    }
    return 0
}

runLibFuzzer(fuzzRequestHead)

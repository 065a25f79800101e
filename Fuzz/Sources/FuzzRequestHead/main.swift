import Foundation
@_spi(Fuzzing) import CORSProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// libFuzzer: raw bytes through NIO's request decoder (as the server pipeline has it), then every decoded head
/// through the proxy's request plan: routing, host and origin checks, header filtering, log redaction.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzRequestHead(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish() }
    guard (try? channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))) != nil else { return 0 }
    var buffer = channel.allocator.buffer(capacity: count)
    buffer.writeBytes(UnsafeBufferPointer(start: data, count: count))
    _ = try? channel.writeInbound(buffer)
    while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
        if case .head(let head) = part { FuzzingEntryPoints.requestHead(head) }
    }
    return 0
}

/// libFuzzer's driver, called from this executable's own `main` (SwiftPM points `main` at the module's top-level
/// code, so libFuzzer's `main` is not the entry point).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzRequestHead))

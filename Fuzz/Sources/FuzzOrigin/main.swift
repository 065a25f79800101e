import Foundation
@_spi(Fuzzing) import CORSProxy

/// libFuzzer: origin patterns against `Origin` headers (`pattern\norigin`).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOrigin(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    FuzzingEntryPoints.origin(String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self))
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
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOrigin))

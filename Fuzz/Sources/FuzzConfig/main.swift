@_spi(Fuzzing) import CORSProxy
import Foundation

/// libFuzzer: config JSON through parsing, checking and lint.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzConfig(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    FuzzingEntryPoints.config(Data(bytes: data, count: count))
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
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzConfig))

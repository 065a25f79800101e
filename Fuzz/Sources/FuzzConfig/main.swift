@_spi(Fuzzing) import CORSProxy
import Foundation
import FuzzDriver

/// libFuzzer: config JSON through parsing, checking and lint.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzConfig(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    FuzzingEntryPoints.config(Data(bytes: data, count: count))
    return 0
}

runLibFuzzer(fuzzConfig)

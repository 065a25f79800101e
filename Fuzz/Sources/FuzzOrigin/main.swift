@_spi(Fuzzing) import CORSProxy
import FuzzDriver

/// libFuzzer: origin patterns against `Origin` headers (`pattern\norigin`).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOrigin(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    FuzzingEntryPoints.origin(String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self))
    return 0
}

runLibFuzzer(fuzzOrigin)

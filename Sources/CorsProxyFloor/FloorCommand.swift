internal import ArgumentParser

/// `corsproxy-floor`: the two halves of the proxy's work, each alone, for `bench/engines floor`. What they cost
/// together is what a SwiftNIO + libcurl proxy cannot go below.
@main
struct FloorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corsproxy-floor",
        abstract: "SwiftNIO alone, or libcurl alone, doing the proxy's work for bench/engines floor.",
        subcommands: [NIOFloor.self, CurlFloor.self]
    )
}

/// A file the floor could not read.
struct FloorError: Error, CustomStringConvertible {
    let description: String
}

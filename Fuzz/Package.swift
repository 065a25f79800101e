// swift-tools-version:6.0
// libFuzzer targets over corsproxy's input parsers. Kept in their own package so the main build never links
// libFuzzer. Build and run with `Fuzz/run` (it passes -sanitize=fuzzer,address).
import Foundation
import PackageDescription

/// A path dependency's identity is its folder's name, which differs between clones.
let mainPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent

let fuzzTarget: (String) -> Target = { name in
    .executableTarget(
        name: name,
        dependencies: [
            "FuzzDriver",
            .product(name: "CORSProxy", package: mainPackage),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]
    )
}

let package = Package(
    name: "corsproxy-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [.target(name: "FuzzDriver")] + ["FuzzOrigin", "FuzzConfig", "FuzzRequestHead"].map(fuzzTarget)
)

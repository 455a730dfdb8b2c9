// swift-tools-version:6.0
// The libFuzzer targets: `inspector-fuzz` for the line codec and the bundle reader, and
// `inspector-hub-fuzz` for whole hub sessions (a real HubStore driven by the input). It is its own
// package (like Benchmarks/) so that `swift build` and `swift test` at the top never build it: it
// must be built with `-sanitize=fuzzer` on every Swift module it exercises, which `Fuzz/run` passes.
// Run: bash Fuzz/run [SECONDS] [codec|hub|both]
import PackageDescription

let package = Package(
    name: "InspectorSyncFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "InspectorSync", path: "../"),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "inspector-fuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "InspectorFuzzing", package: "InspectorSync"),
                .product(name: "InspectorPlans", package: "InspectorSync"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "inspector-hub-fuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "InspectorFuzzing", package: "InspectorSync"),
                .product(name: "InspectorPlans", package: "InspectorSync"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)

// swift-tools-version:6.0
// The benchmark is its own package so that `swift build` and `swift test` at the top never build it.
// Run: swift run -c release --package-path Benchmarks inspector-bench [-D 20] [-M 5000] [--json]
import PackageDescription

let package = Package(
    name: "InspectorSyncBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "InspectorSync", path: "../"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "inspector-bench",
            dependencies: [
                .product(name: "InspectorCore", package: "InspectorSync"),
                .product(name: "InspectorStore", package: "InspectorSync"),
                .product(name: "InspectorProtocol", package: "InspectorSync"),
                .product(name: "InspectorHub", package: "InspectorSync"),
                .product(name: "InspectorSyncClient", package: "InspectorSync"),
                .product(name: "InspectorTLS", package: "InspectorSync"),
                .product(name: "InspectorDashboard", package: "InspectorSync"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)

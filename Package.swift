// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "InspectorSync",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "InspectorCore", targets: ["InspectorCore"]),
        .library(name: "InspectorPlans", targets: ["InspectorPlans"]),
        .library(name: "InspectorStore", targets: ["InspectorStore"]),
        .library(name: "InspectorProtocol", targets: ["InspectorProtocol"]),
        .library(name: "InspectorTLS", targets: ["InspectorTLS"]),
        .library(name: "InspectorReports", targets: ["InspectorReports"]),
        .library(name: "InspectorHub", targets: ["InspectorHub"]),
        .library(name: "InspectorSyncClient", targets: ["InspectorSyncClient"]),
        .library(name: "InspectorDashboard", targets: ["InspectorDashboard"]),
        // The fuzzer's corpus, mutations and checks, shared by the tests, the soak and Fuzz/ (libFuzzer).
        .library(name: "InspectorFuzzing", targets: ["InspectorFuzzing"]),
        .executable(name: "inspector", targets: ["inspector"]),
        .executable(name: "hub", targets: ["hub"]),
        .executable(name: "muong-lay-inspection", targets: ["MuongLayInspection"]),
        .executable(name: "checklist-screen", targets: ["ChecklistScreen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        // TLS 1.3 on every hub connection (BoringSSL), with its X.509 support for the self-signed
        // certificates that carry the hub's and each device's pinned key (issue #12).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // The office's dashboard (issue #14): an HTTP server with a router and middleware
        // (Hummingbird 2), server-rendered pages from Mustache templates, bcrypt for office
        // passwords (HummingbirdBcrypt, a small C target), and ServiceLifecycle to run the sync
        // server and the dashboard as one group that shuts down gracefully on SIGTERM/SIGINT.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // Pure values: hybrid logical clock, operations, field values, the plan model, merge rules,
        // the canonical dataset. No I/O.
        .target(
            name: "InspectorCore",
            swiftSettings: swiftSettings
        ),
        // The inspection plan of Kế hoạch 1181/KH-HĐTĐKT (2024), shipped as a data file.
        .target(
            name: "InspectorPlans",
            dependencies: ["InspectorCore"],
            resources: [.copy("Resources/kh-1181-2024.json")],
            swiftSettings: swiftSettings
        ),
        // The replica store: operation log and materialized state in one SQLite file (GRDB).
        .target(
            name: "InspectorStore",
            dependencies: [
                "InspectorCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SHA-256 of attachment files, hashed in pieces as they are copied or received.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Messages and the line codec of the sync protocol; bundle files.
        .target(
            name: "InspectorProtocol",
            dependencies: [
                "InspectorCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Transport security: the hub's and the devices' keys, their self-signed certificates, TLS 1.3
        // contexts, the pinned-key check, and telling a TLS connection from a plain one.
        .target(
            name: "InspectorTLS",
            dependencies: [
                "InspectorCore",
                "InspectorProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        // The hub's export files: CSV for the office, the consolidated report, deadlines. Pure.
        .target(
            name: "InspectorReports",
            dependencies: ["InspectorCore"],
            swiftSettings: swiftSettings
        ),
        // The hub: its store (devices, tokens, units, every op) and the SwiftNIO server.
        .target(
            name: "InspectorHub",
            dependencies: [
                "InspectorCore",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorReports",
                "InspectorTLS",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The office's dashboard: pages over the hub's store, sign-in, decisions, downloads, live updates.
        .target(
            name: "InspectorDashboard",
            dependencies: [
                "InspectorCore",
                "InspectorReports",
                "InspectorHub",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Templates")],
            swiftSettings: swiftSettings
        ),
        // The device side of sync: connects to a hub, pushes and pulls.
        .target(
            name: "InspectorSyncClient",
            dependencies: [
                "InspectorCore",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorTLS",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "inspector",
            dependencies: [
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorSyncClient",
                "InspectorTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "hub",
            dependencies: [
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorHub",
                "InspectorReports",
                "InspectorTLS",
                "InspectorDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "MuongLayInspection",
            dependencies: [
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorHub",
                "InspectorSyncClient",
                "InspectorProtocol",
                "InspectorDashboard",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/MuongLayInspection",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ChecklistScreen",
            dependencies: ["InspectorCore", "InspectorPlans", "InspectorStore"],
            path: "Examples/ChecklistScreen",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "InspectorCoreTests",
            dependencies: [
                "InspectorTestSupport",
                "InspectorCore",
                "InspectorPlans",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorPlansTests",
            dependencies: ["InspectorCore", "InspectorPlans"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorStoreTests",
            dependencies: [
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorTLSTests",
            dependencies: [
                "InspectorCore",
                "InspectorProtocol",
                "InspectorTLS",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorReportsTests",
            dependencies: ["InspectorTestSupport", "InspectorCore", "InspectorPlans", "InspectorReports"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorProtocolTests",
            dependencies: [
                "InspectorTestSupport",
                "InspectorCore",
                "InspectorProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support shared by the hub's and the device's replay tests: reading Protocol/vectors/
        // transcripts, and a test-side raw DEFLATE peer. Used with @testable import.
        .target(
            name: "InspectorTestSupport",
            dependencies: [
                "InspectorCore",
                "InspectorProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            path: "Tests/InspectorTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorHubTests",
            dependencies: [
                "InspectorTestSupport",
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorHub",
                "InspectorSyncClient",
                "InspectorTLS",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorDashboardTests",
            dependencies: [
                "InspectorTestSupport",
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorHub",
                "InspectorReports",
                "InspectorProtocol",
                "InspectorDashboard",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InspectorSyncClientTests",
            dependencies: [
                "InspectorTestSupport",
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorHub",
                "InspectorSyncClient",
                "InspectorTLS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // End-to-end tests that run the built `inspector` and `hub` executables as real processes.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "InspectorTestSupport",
                "inspector",
                "hub",
                "MuongLayInspection",
                "ChecklistScreen",
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorSyncClient",
                "InspectorTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            // Files written by the previous release, opened by PreviousReleaseTests through #filePath.
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        // Fault-injection tests: hostile lines, slow clients, fuzzing, a full disk (see docs/reliability.md).
        .testTarget(
            name: "InspectorFaultTests",
            dependencies: [
                "InspectorTestSupport",
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorHub",
                "InspectorSyncClient",
                "InspectorTLS",
                "InspectorFuzzing",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The protocol fuzzer: a corpus from Protocol/vectors, seeded mutations, and the rules every
        // input must meet. Run by InspectorFaultTests, the soak, and the libFuzzer target in Fuzz/.
        .target(
            name: "InspectorFuzzing",
            dependencies: [
                "InspectorCore",
                "InspectorProtocol",
                "InspectorStore",
                "InspectorHub",
                "InspectorReports",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The soak command: rounds of random edits, cut syncs, clock skew and hub restarts, plus the fuzzer.
        .executableTarget(
            name: "inspector-soak",
            dependencies: [
                "InspectorFuzzing",
                "InspectorCore",
                "InspectorPlans",
                "InspectorStore",
                "InspectorProtocol",
                "InspectorHub",
                "InspectorSyncClient",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

import Foundation
import InspectorCore
import Testing

/// The one registry of error codes (`ErrorCode.swift`) and the one error protocol (`InspectorError.swift`).
@Suite struct ErrorCodeTests {
    @Test func everyCodeIsListedOnceAndIsSnakeCase() {
        let raw = ErrorCode.all.map(\.rawValue)
        #expect(Set(raw).count == raw.count, "a code is listed twice: \(raw.sorted())")
        for code in raw {
            #expect(!code.isEmpty && code.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || $0 == 95 }, "'\(code)' is not snake_case")
        }
        #expect(ErrorCode.wire.isSubset(of: Set(ErrorCode.all)))
    }

    /// The codes a hub sends are exactly those of PROTOCOL.md's error table (13), which also lists
    /// `bad_bundle` as never sent on the wire; and every code the spec names for a device's failures
    /// (13.1) is registered.
    @Test func theWireCodesAreThoseOfTheSpec() throws {
        let spec = try String(contentsOf: repositoryRoot.appendingPathComponent("Protocol/PROTOCOL.md"), encoding: .utf8)
        let section = try #require(spec.range(of: "## 13. Errors").flatMap { start in
            spec.range(of: "## 14.", range: start.upperBound..<spec.endIndex).map { spec[start.upperBound..<$0.lowerBound] }
        })
        var tabled: Set<String> = []
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let cell = line.dropFirst(3).prefix { $0 != "`" }
            tabled.insert(String(cell))
        }
        #expect(tabled == Set(ErrorCode.wire.map(\.rawValue)).union(["bad_bundle"]))
        for code in ["connection_failed", "refused_by_hub", "protocol_violation", "replica_behind_hub"] {
            #expect(section.contains("`\(code)`"), "13.1 does not name \(code)")
            #expect(ErrorCode.all.contains(ErrorCode(rawValue: code)))
        }
    }

    @Test func anErrorOfAnyLayerIsMatchedByItsCode() {
        let errors: [any InspectorError] = [CoreError(.invalidValue, "field 'score' takes 0–100; got '101'")]
        for error in errors {
            #expect(error.code == .invalidValue && error.description == "field 'score' takes 0–100; got '101' [invalid_value]")
        }
        let literal: ErrorCode = "invalid_value"
        #expect(literal == .invalidValue)
    }
}

/// The package's root folder, found from this file.
private let repositoryRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.pathComponents.count > 1 {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Protocol/PROTOCOL.md").path) { return url }
    }
    fatalError("Protocol/PROTOCOL.md not found above \(#filePath)")
}()

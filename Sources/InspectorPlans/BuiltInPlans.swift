import Foundation
import InspectorCore

/// The plans shipped with InspectorSync as package resources.
///
/// The current one is Kế hoạch 1181/KH-HĐTĐKT (19/03/2024) of the Điện Biên provincial council
/// for emulation and commendation. Another plan is loaded from a file with ``load(contentsOf:)``.
///
/// ```swift
/// let plan = try BuiltInPlans.current()
/// let other = try BuiltInPlans.load(contentsOf: URL(fileURLWithPath: "kh-2025.json"))
/// ```
public enum BuiltInPlans {
    /// The id of the plan used when none is given.
    public static let currentID = "kh-1181-2024"

    /// The plan used when none is given: Kế hoạch 1181/KH-HĐTĐKT (2024).
    public static func current() throws -> Plan {
        guard let url = Bundle.module.url(forResource: currentID, withExtension: "json") else {
            throw CoreError(.malformedPlan, "the built-in plan \(currentID) is missing from the package resources")
        }
        return try load(contentsOf: url)
    }

    /// Reads and checks a plan file.
    ///
    /// - Throws: ``InspectorCore/CoreError`` `malformed_plan` naming what is wrong, or when the file cannot be read.
    public static func load(contentsOf url: URL) throws -> Plan {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CoreError(.malformedPlan, "cannot read the plan file \(url.path)")
        }
        return try Plan.decode(from: data)
    }
}

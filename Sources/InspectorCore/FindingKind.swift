/// The closed set of finding kinds an inspector records.
public enum FindingKind: String, CaseIterable, Sendable, Codable {
    /// Tồn tại, hạn chế: a shortcoming.
    case shortcoming
    /// Mô hình hay, điển hình tiên tiến: a good practice worth spreading.
    case goodPractice = "good_practice"
    /// Kiến nghị, đề xuất: a recommendation.
    case recommendation
    /// Ghi nhận: an observation.
    case observation

    /// The Vietnamese name used in reports.
    public var vietnameseTitle: String {
        switch self {
        case .shortcoming: "Tồn tại, hạn chế"
        case .goodPractice: "Mô hình hay, điển hình tiên tiến"
        case .recommendation: "Kiến nghị, đề xuất"
        case .observation: "Ghi nhận"
        }
    }

    /// Parses a kind, or throws an error that lists the kinds that exist.
    public init(parsing text: String) throws(CoreError) {
        guard let kind = FindingKind(rawValue: text) else {
            let known = FindingKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw CoreError(.unknownFindingKind, "unknown finding kind '\(text.excerpt(40))'; kinds are: \(known)")
        }
        self = kind
    }
}

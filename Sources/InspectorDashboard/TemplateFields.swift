import Mustache
import Synchronization

/// A value a template reads by property name, one property at a time.
///
/// Mustache finds a name in a plain struct through `Mirror`, by making every property into an
/// `Any` and keeping the one whose label matches: a page's lookup cost all of its properties, and a
/// name a row lacks (a nil optional) is looked up again in every enclosing context, the page's
/// twenty properties included. A unit page at 10⁶ ops spent two thirds of its time there
/// (docs/performance.md). A `TemplateFields` value answers the same names with the same values:
/// its stored properties, found by their position, which is learnt once per type from the labels
/// `Mirror` lists, and a nil optional as nil.
protocol TemplateFields: MustacheParent {}

extension TemplateFields {
    func child(named name: String) -> Any? {
        let mirror = Mirror(reflecting: self)
        guard let position = TemplateFieldPositions.shared.position(of: name, in: Self.self, mirror: mirror) else { return nil }
        let children = mirror.children
        return unwrapped(children[children.index(children.startIndex, offsetBy: position)].value)
    }
}

/// The position of each stored property's label, per type.
final class TemplateFieldPositions: Sendable {
    static let shared = TemplateFieldPositions()

    private let positions = Mutex<[ObjectIdentifier: [String: Int]]>([:])

    func position(of name: String, in type: Any.Type, mirror: Mirror) -> Int? {
        let key = ObjectIdentifier(type)
        if let known = positions.withLock({ $0[key] }) { return known[name] }
        var labels: [String: Int] = [:]
        for (position, child) in mirror.children.enumerated() {
            if let label = child.label, labels[label] == nil { labels[label] = position }
        }
        positions.withLock { $0[key] = labels }
        return labels[name]
    }
}

/// Nil for an optional holding nothing, the wrapped value for one holding something (one level,
/// as Mustache reads a property through `Mirror`), any other value as it is.
private func unwrapped(_ value: Any) -> Any? {
    guard let optional = value as? any OptionalValue else { return value }
    return optional.wrappedValue
}

private protocol OptionalValue {
    var wrappedValue: Any? { get }
}

extension Optional: OptionalValue {
    fileprivate var wrappedValue: Any? {
        switch self {
        case .some(let value): value
        case .none: nil
        }
    }
}

extension PageLayout: TemplateFields {}
extension DeadlineCell: TemplateFields {}
extension OverviewPage: TemplateFields {}
extension OverviewPage.KindCount: TemplateFields {}
extension OverviewPage.UnitRow: TemplateFields {}
extension OverviewPage.DeviceRow: TemplateFields {}
extension UnitPage: TemplateFields {}
extension UnitPage.ValueRow: TemplateFields {}
extension UnitPage.AttachmentRow: TemplateFields {}
extension UnitPage.FindingRow: TemplateFields {}
extension UnitPage.ItemRow: TemplateFields {}
extension UnitPage.Entry: TemplateFields {}
extension UnitPage.Section: TemplateFields {}
extension FindingsPage: TemplateFields {}
extension ConflictsPage: TemplateFields {}
extension ConflictsPage.Version: TemplateFields {}
extension ConflictsPage.Choice: TemplateFields {}
extension ConflictsPage.Row: TemplateFields {}
extension ConflictsPage.PageLink: TemplateFields {}
extension DevicePage: TemplateFields {}
extension DevicePage.HeldBackRow: TemplateFields {}
extension AuditPage: TemplateFields {}
extension AuditPage.Row: TemplateFields {}
extension DownloadsPage: TemplateFields {}
extension DownloadsPage.File: TemplateFields {}
extension SignInPage: TemplateFields {}

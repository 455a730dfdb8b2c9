import InspectorCore
import InspectorHub
import Mustache
import Testing
@testable import InspectorDashboard

/// Pages answer a template's names themselves (`TemplateFields.swift`) instead of through
/// Mustache's `Mirror` lookup: the answers must be Mirror's, name by name, all the way down.
@Suite struct TemplateFieldsTests {
    /// What Mustache's own lookup gives for `name` in `value`: the property's value, an optional
    /// unwrapped one level, nil for a name the value does not have.
    static func mirrorLookup(_ name: String, in value: Any) -> Any? {
        guard let child = Mirror(reflecting: value).children.first(where: { $0.label == name }) else { return nil }
        let mirror = Mirror(reflecting: child.value)
        guard mirror.displayStyle == .optional else { return child.value }
        return mirror.children.first?.value
    }

    /// Checks every stored property of `value` and, inside it, of every page value, row and list
    /// element; returns how many names were compared.
    @discardableResult
    static func expectSameAnswers(_ value: Any, path: String) -> Int {
        var compared = 0
        if let fields = value as? any TemplateFields {
            for case let (label?, _) in Mirror(reflecting: value).children {
                let expected = mirrorLookup(label, in: value)
                let answered = fields.child(named: label)
                #expect((expected == nil) == (answered == nil), "\(path).\(label): nil for one lookup only")
                #expect(String(describing: expected) == String(describing: answered), "\(path).\(label)")
                compared += 1
                if let answered { compared += expectSameAnswers(answered, path: "\(path).\(label)") }
            }
            #expect(fields.child(named: "noSuchName") == nil, "\(path): an unknown name")
        } else if let list = value as? [Any] {
            for (index, element) in list.enumerated() { compared += expectSameAnswers(element, path: "\(path)[\(index)]") }
        }
        return compared
    }

    /// The overview, a unit's page, the ledger and a device's page of the dashboard tests'
    /// inspection (values, findings with a retraction, a conflict, deadlines) answer as Mirror.
    @Test func pagesAnswerEveryNameAsMustachesMirrorLookupWould() async throws {
        let setup = try await DashboardTests.inspection()
        let hub = setup.hub
        let (session, _) = try await hub.signIn(name: DashboardSetup.supervisor.name, password: DashboardSetup.supervisor.password)
        let snapshot = try await setup.dashboard.cache.snapshot()
        let unit = try #require(snapshot.dataset.units.first { $0.id == "muong-lay" })
        let shown = try await ShownFindings.read(UnitPage.shownFindingIDs(unit: unit.id, snapshot: snapshot), from: hub, snapshot: snapshot)
        let unitPage = UnitPage(unit: unit, snapshot: snapshot, shown: shown, session: session)
        #expect(unitPage.hasConflicts && !unitPage.sections.isEmpty)
        let listed = ConflictsPage.List(snapshot: snapshot, page: 1)
        let ledger = ConflictsPage(snapshot: snapshot, session: session, listed: listed, shown: try await hub.conflicts(of: listed.entries))
        #expect(ledger.rows.count == 1)
        let pages: [(String, Any)] = [("overview", OverviewPage(snapshot: snapshot, session: session)), ("unit", unitPage), ("ledger", ledger)]
        for (name, page) in pages {
            let compared = Self.expectSameAnswers(page, path: name)
            #expect(compared > 20, "\(name): \(compared) names compared")
        }
    }

    /// A row with its optionals both empty and set answers as Mirror, and a template renders the
    /// same text from it as from a plain struct with the same properties.
    @Test func optionalsAnswerNilOrTheirValueAndRenderAsBefore() throws {
        let retracted = UnitPage.FindingRow(kind: "Hạn chế", text: "Thiếu biên bản", who: "Quàng Thị Hoa", device: "dev-hoa", when: "20/06/2024 09:02",
                                            isRetracted: true, retraction: "Ghi nhầm", attachments: [], hasAttachments: false)
        var kept = retracted
        kept.isRetracted = false
        kept.retraction = nil
        for row in [retracted, kept] { Self.expectSameAnswers(row, path: "row") }
        #expect(kept.child(named: "retraction") == nil)
        #expect(retracted.child(named: "retraction") as? String == "Ghi nhầm")
        struct Plain {
            var kind: String, text: String, retraction: String?
        }
        let template = try MustacheTemplate(string: "{{kind}}: {{text}}{{#retraction}} (rút lại: {{.}}){{/retraction}}{{^retraction}} — còn hiệu lực{{/retraction}}")
        for row in [retracted, kept] {
            #expect(template.render(row) == template.render(Plain(kind: row.kind, text: row.text, retraction: row.retraction)))
        }
        #expect(template.render(retracted) == "Hạn chế: Thiếu biên bản (rút lại: Ghi nhầm)")
    }
}

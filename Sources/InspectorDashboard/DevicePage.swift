import InspectorCore
import InspectorHub
import InspectorReports

/// `/devices/<id>`: one device: its holder, scope, key and signed log, last sync and clock offset,
/// what it reported holding back, and the findings it recorded.
struct DevicePage: Sendable {
    struct HeldBackRow: Sendable {
        var op: String
        var code: String
        var message: String
    }

    var layout: PageLayout
    var device: OverviewPage.DeviceRow
    var key: String
    var confirmed: Int64
    var signedLog: String
    var heldBackCount: Int
    var heldBack: [HeldBackRow]
    var findings: [UnitPage.FindingRow]
    var findingCount: Int
    var hasFindings: Bool
    var hasHeldBack: Bool
    var values: Int

    init(device: HubStore.Device, snapshot: DashboardSnapshot, session: OfficeSession) {
        let input = snapshot.input
        layout = PageLayout(title: "Thiết bị \(device.id)", session: session, snapshot: snapshot)
        self.device = OverviewPage.row(device, input: input)
        key = device.key.map { "\($0)" } ?? "chưa đăng ký khóa"
        confirmed = device.confirmed
        signedLog = HubStatus.describe(device.chain, confirmed: device.confirmed)
        let report = snapshot.heldBack[device.id]
        heldBackCount = report?.count ?? 0
        heldBack = report?.entries.prefix(20).map { HeldBackRow(op: "\($0.device)#\($0.sequence)", code: $0.code, message: $0.message) } ?? []
        let own = snapshot.dataset.findings.filter { $0.device == device.id }
        findingCount = own.count
        findings = own.suffix(50).reversed().map { UnitPage.finding($0, input: input) }
        hasFindings = !own.isEmpty
        hasHeldBack = heldBackCount > 0
        values = snapshot.dataset.values.filter { $0.current.device == device.id }.count
    }
}

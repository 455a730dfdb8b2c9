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

    /// The findings a device's page shows: its latest 50, newest first.
    static func shownFindings(of device: String, snapshot: DashboardSnapshot) -> [DashboardSnapshot.FindingEntry] {
        snapshot.findings(by: device).suffix(50).reversed()
    }

    /// - Parameter shown: the findings of ``shownFindings(of:snapshot:)``, read whole.
    init(device: HubStore.Device, snapshot: DashboardSnapshot, shown: ShownFindings, session: OfficeSession) {
        let input = snapshot.input
        layout = PageLayout(title: "Thiết bị \(device.id)", session: session, snapshot: snapshot)
        self.device = OverviewPage.row(device, input: input)
        key = device.key.map { "\($0)" } ?? "chưa đăng ký khóa"
        confirmed = device.confirmed
        signedLog = Self.describe(device.chain, confirmed: device.confirmed)
        let report = snapshot.heldBack[device.id]
        heldBackCount = report?.count ?? 0
        heldBack = report?.entries.prefix(20).map { HeldBackRow(op: "\($0.device)#\($0.sequence)", code: $0.code, message: $0.message) } ?? []
        findingCount = snapshot.findingsByDevice[device.id]?.count ?? 0
        findings = shown.rows(Self.shownFindings(of: device.id, snapshot: snapshot))
        hasFindings = findingCount > 0
        hasHeldBack = heldBackCount > 0
        values = snapshot.dataset.values.filter { $0.current.device == device.id }.count
    }

    /// How far the hub verified the device's log against its signed chain heads, for people.
    static func describe(_ chain: HubStore.ChainStatus?, confirmed: Int64) -> String {
        guard let chain else { return confirmed == 0 ? "chưa nhận thao tác nào" : "chưa xác minh: chưa nhận đầu chuỗi có chữ ký" }
        let run = "đã xác minh #\(chain.from)–#\(chain.through)"
        if chain.from > 1 { return "\(run); #1–#\(chain.from - 1) nhận trước khi có chữ ký, không xác minh được" }
        return chain.through >= confirmed ? "\(run): mọi thao tác đã nhận đều đã xác minh" : "\(run); các thao tác sau #\(chain.through) chưa xác minh"
    }
}

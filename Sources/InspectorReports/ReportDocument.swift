import InspectorCore

/// The consolidated report as a sequence of blocks, rendered to Markdown and to printable HTML.
///
/// First a summary for the provincial People's Committee (progress per unit, findings by kind,
/// deadlines passed, conflicts still open), then per unit the report outline: I. Đặc điểm tình hình,
/// II. Kết quả thực hiện with its groups and items, III. Nhận xét, đánh giá chung — each item with its
/// field values and the findings recorded under it, each naming who recorded it and when.
public struct ReportDocument: Sendable {
    /// One block of the report.
    public enum Block: Sendable, Hashable {
        case heading(level: Int, text: String)
        case paragraph(String)
        case list([ListEntry])
        case table(header: [String], rows: [[String]])
    }

    /// A list entry; `struck` entries (retracted findings) are shown struck through, never dropped.
    public struct ListEntry: Sendable, Hashable {
        public var text: String
        public var struck: Bool
        public var note: String?
        /// The files attached to a finding.
        public var files: [FileEntry] = []
    }

    /// A file attached to a finding: its name, what it is, and where the export holds it (nil when
    /// the hub does not hold it yet, or the export carries no files).
    public struct FileEntry: Sendable, Hashable {
        public var name: String
        public var detail: String
        public var path: String?
        public var isImage: Bool
    }

    public var title: String
    public var blocks: [Block]

    /// Builds the report from an export snapshot.
    public init(_ input: ExportInput) {
        let dataset = input.dataset
        let plan = dataset.plan
        title = "Báo cáo tổng hợp kết quả kiểm tra — \(plan.title)"
        var blocks: [Block] = []
        let issued = (try? CalendarDate(iso: plan.issued))?.vietnameseString ?? plan.issued
        blocks.append(.paragraph("Theo Kế hoạch số \(plan.reference) ngày \(issued) của \(plan.issuer). Số liệu tổng hợp từ các thiết bị của đoàn kiểm tra, tính đến ngày \(input.asOf.vietnameseString)."))

        // Summary.
        blocks.append(.heading(level: 2, text: "Tóm tắt gửi Ủy ban nhân dân tỉnh"))
        blocks.append(.heading(level: 3, text: "Tiến độ kiểm tra các đơn vị"))
        blocks.append(.table(header: ["Đơn vị", "Hình thức", "Mục hoàn thành", "Ngày kiểm tra", "Hạn thông báo", "Hạn nộp báo cáo", "Hạn đã qua"],
                             rows: dataset.units.map { unit in
            let deadlines = input.deadlines(for: unit)
            let progress = input.progress(of: unit.id)
            return ["\(unit.name) (\(unit.id))", unit.kind == .direct ? "Kiểm tra trực tiếp" : "Tự kiểm tra", "\(progress.done)/\(progress.total)",
                    deadlines.arrival?.vietnameseString ?? "chưa xếp lịch", deadlines.noticeBy?.vietnameseString ?? "—",
                    deadlines.reportDue?.vietnameseString ?? "—", deadlines.passed(asOf: input.asOf).joined(separator: "; ").nonEmpty ?? "—"]
        }))
        blocks.append(.heading(level: 3, text: "Phát hiện theo loại"))
        blocks.append(.table(header: ["Loại phát hiện", "Số lượng", "Trong đó đã rút lại"], rows: FindingKind.allCases.map { kind in
            let all = dataset.findings.filter { $0.kind == kind }
            return [kind.vietnameseTitle, String(all.count), String(all.filter { $0.retraction != nil }.count)]
        }))
        blocks.append(.heading(level: 3, text: "Hạn đã qua"))
        let late = dataset.units.compactMap { unit -> ListEntry? in
            let passed = input.deadlines(for: unit).passed(asOf: input.asOf)
            return passed.isEmpty ? nil : ListEntry(text: "\(unit.name): \(passed.joined(separator: "; "))", struck: false, note: nil)
        }
        blocks.append(late.isEmpty ? .paragraph("Không có hạn nào đã qua.") : .list(late))
        blocks.append(.heading(level: 3, text: "Xung đột dữ liệu chưa giải quyết"))
        let open = dataset.conflicts.filter { input.resolution(of: $0) == nil }
        blocks.append(open.isEmpty ? .paragraph("Không có xung đột chưa giải quyết.") : .list(open.map { conflict in
            ListEntry(text: "\(conflict.unit) · \(conflict.item) · \(conflict.field): \(Self.describe(conflict, input))", struck: false, note: nil)
        }))
        let resolved = dataset.conflicts.filter { input.resolution(of: $0) != nil }
        if !resolved.isEmpty {
            blocks.append(.heading(level: 3, text: "Xung đột đã giải quyết"))
            blocks.append(.list(resolved.map { conflict in
                let resolution = input.resolution(of: conflict)!
                return ListEntry(text: "\(conflict.unit) · \(conflict.item) · \(conflict.field): chọn \(conflict.winner.value) — quyết định của \(resolution.by), \(VietnamTime.format(resolution.timestamp)); các giá trị khác: \(conflict.losers.map { "\($0.value) (\(input.holder($0.device)), \(VietnamTime.format($0.timestamp)))" }.joined(separator: "; "))", struck: false, note: nil)
            }))
        }

        // Per unit, the outline.
        let groups = plan.groups ?? []
        for unit in dataset.units {
            blocks.append(.heading(level: 2, text: "\(unit.name) (\(unit.id))"))
            let progress = input.progress(of: unit.id)
            var facts = ["Hình thức: \(unit.kind == .direct ? "kiểm tra trực tiếp" : "tự kiểm tra")", "Tiến độ: \(progress.done)/\(progress.total) mục"]
            if let parent = unit.parent { facts.append("Thuộc: \(dataset.units.first { $0.id == parent }?.name ?? parent)") }
            blocks.append(.paragraph(facts.joined(separator: ". ") + "."))
            var shownGroups = Set<String>()
            for section in plan.sections {
                blocks.append(.heading(level: 3, text: "\(section.id). \(section.title)"))
                for item in plan.items where item.section == section.id {
                    for group in groups where item.id.hasPrefix(group.id + ".") && !shownGroups.contains(group.id) {
                        shownGroups.insert(group.id)
                        blocks.append(.heading(level: 4, text: "\(group.id). \(group.title)"))
                    }
                    blocks.append(.heading(level: 5, text: "\(item.id). \(item.title)"))
                    let values = dataset.values.filter { $0.unit == unit.id && $0.item == item.id }
                    if values.isEmpty {
                        blocks.append(.paragraph("Chưa có số liệu."))
                    } else {
                        blocks.append(.list(values.map { value in
                            let field = plan.fields(of: item).first { $0.id == value.field }
                            let shown = field?.values?.first { $0.id == value.current.value }?.title ?? value.current.value
                            let unitText = field?.unit.map { " \($0)" } ?? ""
                            return ListEntry(text: "\(field?.title ?? value.field): \(shown)\(unitText)", struck: false,
                                             note: "\(input.holder(value.current.device)), \(value.current.device), \(VietnamTime.format(value.current.timestamp))")
                        }))
                    }
                    let findings = dataset.findings.filter { $0.unit == unit.id && $0.item == item.id }
                    if !findings.isEmpty { blocks.append(.list(findings.map { Self.entry($0, input) })) }
                }
            }
            let general = dataset.findings.filter { $0.unit == unit.id && $0.item == nil }
            if !general.isEmpty {
                blocks.append(.heading(level: 3, text: "Phát hiện chung của đơn vị"))
                blocks.append(.list(general.map { Self.entry($0, input) }))
            }
        }
        self.blocks = blocks
    }

    static func entry(_ finding: Dataset.Finding, _ input: ExportInput) -> ListEntry {
        var note = "\(input.holder(finding.device)), \(finding.device), \(VietnamTime.format(finding.timestamp))"
        if let retraction = finding.retraction {
            note += "; ĐÃ RÚT LẠI: \(retraction.value) (\(input.holder(retraction.device)), \(VietnamTime.format(retraction.timestamp)))"
        }
        let files = finding.attachments.map { attachment in
            let file = attachment.descriptor
            return FileEntry(name: file.name, detail: "\(file.type.rawValue), \(Self.size(file.size)), \(input.holder(attachment.device)), \(VietnamTime.format(attachment.timestamp))",
                             path: input.exportedPath(of: file), isImage: file.type.isImage)
        }
        return ListEntry(text: "[\(finding.kind.vietnameseTitle)] \(finding.text)", struck: finding.retraction != nil, note: note, files: files)
    }

    /// A size for people: bytes, KB or MB (decimal comma, as in Vietnamese).
    public static func size(_ bytes: Int64) -> String {
        if bytes < 1000 { return "\(bytes) byte" }
        let (value, unit) = bytes < 1_000_000 ? (Double(bytes) / 1000, "KB") : (Double(bytes) / 1_000_000, "MB")
        return String(format: "%.1f", value).replacingOccurrences(of: ".", with: ",") + " " + unit
    }

    static func describe(_ conflict: Dataset.Conflict, _ input: ExportInput) -> String {
        func version(_ v: Dataset.Version) -> String {
            "\(v.value) (\(input.holder(v.device)), \(v.device), \(VietnamTime.format(v.timestamp))\(input.isSkewed(v) ? ", đồng hồ lệch lớn" : ""))"
        }
        return "đang dùng \(version(conflict.winner)); giá trị khác: \(conflict.losers.map(version).joined(separator: "; "))"
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

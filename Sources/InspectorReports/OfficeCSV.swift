import InspectorCore

/// The CSV files for the office: `units.csv`, `values.csv`, `findings.csv`, `conflicts.csv`,
/// `attachments.csv`, and at the hub `logs.csv`.
/// Columns are documented in `docs/exports.md`.
public enum OfficeCSV {
    public static func units(_ input: ExportInput) -> [UInt8] {
        var csv = CSVWriter(header: ["Mã đơn vị", "Tên đơn vị", "Hình thức", "Đơn vị cấp trên", "Ngày kiểm tra",
                                     "Hạn thông báo", "Hạn nộp báo cáo", "Số mục hoàn thành", "Tổng số mục", "Hạn đã qua"])
        for unit in input.dataset.units {
            let deadlines = input.deadlines(for: unit)
            let progress = input.progress(of: unit.id)
            csv.append([.text(unit.id), .text(unit.name), .text(unit.kind == .direct ? "Kiểm tra trực tiếp" : "Tự kiểm tra"),
                        unit.parent.map(Cell.text) ?? .empty, date(deadlines.arrival), date(deadlines.noticeBy), date(deadlines.reportDue),
                        .bare(String(progress.done)), .bare(String(progress.total)),
                        .text(deadlines.passed(asOf: input.asOf).joined(separator: "; "))])
        }
        return csv.bytes
    }

    /// Whether each device's log verified against its signed chain heads (PROTOCOL.md 19): one row
    /// per enrolled device, by id.
    public static func logs(_ logs: [ExportInput.DeviceLog], _ input: ExportInput) -> [UInt8] {
        var csv = CSVWriter(header: ["Thiết bị", "Người giữ", "Khóa thiết bị", "Số thao tác đã nhận", "Xác minh từ", "Xác minh đến",
                                     "Nhật ký đã xác minh", "Ghi chú"])
        for log in logs.sorted(by: { Array($0.device.utf8).lexicographicallyPrecedes(Array($1.device.utf8)) }) {
            let note: String
            if let verified = log.verified {
                if log.isVerified {
                    note = "Mọi thao tác đã nhận đều khớp chữ ký của thiết bị"
                } else if verified.lowerBound > 1 {
                    note = "Thao tác #1–#\(verified.lowerBound - 1) nhận trước khi có chữ ký, chưa xác minh"
                } else {
                    note = "Thao tác sau #\(verified.upperBound) chưa có chữ ký được xác minh"
                }
            } else {
                note = log.confirmed == 0 ? "Chưa có thao tác" : "Chưa có chữ ký được xác minh"
            }
            csv.append([.text(log.device), .text(input.holders[log.device] ?? ""), log.key.map(Cell.text) ?? .empty,
                        .bare(String(log.confirmed)), log.verified.map { .bare(String($0.lowerBound)) } ?? .empty,
                        log.verified.map { .bare(String($0.upperBound)) } ?? .empty, .text(log.isVerified ? "Có" : "Không"), .text(note)])
        }
        return csv.bytes
    }

    public static func values(_ input: ExportInput) -> [UInt8] {
        let dataset = input.dataset
        var csv = CSVWriter(header: ["Mã đơn vị", "Tên đơn vị", "Mục", "Tên mục", "Trường", "Tên trường", "Kiểu", "Giá trị",
                                     "Thiết bị", "Người ghi", "Thời điểm (giờ Việt Nam)"])
        for value in dataset.values {
            let item = dataset.plan.items.first { $0.id == value.item }
            let field = item.flatMap { item in dataset.plan.fields(of: item).first { $0.id == value.field } }
            let type = field?.type ?? .text
            let cell: Cell = switch type {
            case .integer, .decimal, .percent, .date: .bare(value.current.value)
            case .enum: .text(field?.values?.first { $0.id == value.current.value }?.title ?? value.current.value)
            case .text: .text(value.current.value)
            }
            csv.append([.text(value.unit), .text(unitName(value.unit, input)), .text(value.item), .text(item?.title ?? ""),
                        .text(value.field), .text(field?.title ?? ""), .text(type.rawValue), cell,
                        .text(value.current.device), .text(input.holder(value.current.device)),
                        .bare(VietnamTime.spreadsheet(value.current.timestamp))])
        }
        return csv.bytes
    }

    public static func findings(_ input: ExportInput) -> [UInt8] {
        var csv = CSVWriter(header: ["Mã phát hiện", "Mã đơn vị", "Tên đơn vị", "Mục", "Loại", "Nội dung", "Thiết bị", "Người ghi",
                                     "Thời điểm (giờ Việt Nam)", "Đã rút lại", "Lý do rút lại", "Người rút lại", "Thời điểm rút lại"])
        for finding in input.dataset.findings {
            let retraction = finding.retraction
            csv.append([.text(finding.id), .text(finding.unit), .text(unitName(finding.unit, input)), finding.item.map(Cell.text) ?? .empty,
                        .text(finding.kind.vietnameseTitle), .text(finding.text), .text(finding.device), .text(input.holder(finding.device)),
                        .bare(VietnamTime.spreadsheet(finding.timestamp)), .text(retraction == nil ? "Không" : "Có"),
                        retraction.map { .text($0.value) } ?? .empty, retraction.map { .text(input.holder($0.device)) } ?? .empty,
                        retraction.map { .bare(VietnamTime.spreadsheet($0.timestamp)) } ?? .empty])
        }
        return csv.bytes
    }

    /// One row per file attached to a finding: where it belongs, what it is, who attached it and
    /// when, and where the export holds it.
    public static func attachments(_ input: ExportInput) -> [UInt8] {
        var csv = CSVWriter(header: ["Mã phát hiện", "Mã đơn vị", "Mục", "Tên tệp", "Loại", "Kích thước (byte)", "SHA-256", "Thiết bị",
                                     "Người đính kèm", "Thời điểm (giờ Việt Nam)", "Tệp trong thư mục xuất", "Phát hiện đã rút lại"])
        for finding in input.dataset.findings {
            for attachment in finding.attachments {
                let file = attachment.descriptor
                csv.append([.text(finding.id), .text(finding.unit), finding.item.map(Cell.text) ?? .empty, .text(file.name),
                            .text(file.type.rawValue), .bare(String(file.size)), .text(file.hash), .text(attachment.device),
                            .text(input.holder(attachment.device)), .bare(VietnamTime.spreadsheet(attachment.timestamp)),
                            input.exportedPath(of: file).map(Cell.text) ?? .text("Chưa có tại máy chủ"),
                            .text(finding.retraction == nil ? "Không" : "Có")])
            }
        }
        return csv.bytes
    }

    public static func conflicts(_ input: ExportInput) -> [UInt8] {
        var csv = CSVWriter(header: ["Mã đơn vị", "Mục", "Trường", "Giá trị được chọn", "Thiết bị", "Người ghi", "Thời điểm (giờ Việt Nam)",
                                     "Đồng hồ lệch lớn", "Giá trị bị thay thế", "Thiết bị (bị thay thế)", "Người ghi (bị thay thế)",
                                     "Thời điểm (bị thay thế)", "Đồng hồ lệch lớn (bị thay thế)", "Đã giải quyết", "Người giải quyết",
                                     "Thời điểm giải quyết"])
        for conflict in input.dataset.conflicts {
            let resolution = input.resolution(of: conflict)
            let typed = { (value: String) -> Cell in
                input.dataset.fieldType(item: conflict.item, field: conflict.field)?.isNumeric == true ? .bare(value) : .text(value)
            }
            for loser in conflict.losers {
                csv.append([.text(conflict.unit), .text(conflict.item), .text(conflict.field), typed(conflict.winner.value),
                            .text(conflict.winner.device), .text(input.holder(conflict.winner.device)),
                            .bare(VietnamTime.spreadsheet(conflict.winner.timestamp)), .text(input.isSkewed(conflict.winner) ? "Có" : "Không"),
                            typed(loser.value), .text(loser.device), .text(input.holder(loser.device)),
                            .bare(VietnamTime.spreadsheet(loser.timestamp)), .text(input.isSkewed(loser) ? "Có" : "Không"),
                            .text(resolution == nil ? "Chưa" : "Đã giải quyết"), resolution.map { .text($0.by) } ?? .empty,
                            resolution.map { .bare(VietnamTime.spreadsheet($0.timestamp)) } ?? .empty])
            }
        }
        return csv.bytes
    }

    typealias Cell = CSVWriter.Cell

    static func date(_ date: CalendarDate?) -> Cell {
        date.map { .bare($0.isoString) } ?? .empty
    }

    static func unitName(_ id: String, _ input: ExportInput) -> String {
        input.dataset.units.first { $0.id == id }?.name ?? id
    }
}

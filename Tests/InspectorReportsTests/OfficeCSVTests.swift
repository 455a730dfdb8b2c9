import Foundation
import InspectorCore
import Testing
@testable import InspectorReports

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF).
func parseCSV(_ bytes: [UInt8]) throws -> [[String]] {
    #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF], "a CSV for the office starts with a UTF-8 byte-order mark")
    let text = try #require(String(validating: bytes.dropFirst(3), as: UTF8.self))
    var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
    var characters = Array(text)[...]
    while let c = characters.popFirst() {
        if quoted {
            if c == "\"" {
                if characters.first == "\"" { field.append("\""); characters.removeFirst() } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" { quoted = true }
        else if c == "," { row.append(field); field = "" }
        else if c == "\r\n" || c == "\n" { row.append(field); rows.append(row); row = []; field = "" }
        else { field.append(c) }
    }
    #expect(row.isEmpty && field.isEmpty, "the file ends with a line break")
    return rows
}

@Suite struct OfficeCSVTests {
    let input = ExportFixture.input()

    @Test func valuesKeepVietnameseAndTypes() throws {
        let rows = try parseCSV(OfficeCSV.values(input))
        #expect(rows[0].first == "Mã đơn vị")
        #expect(rows.dropFirst().allSatisfy { $0.count == rows[0].count })
        let note = try #require(rows.first { $0[2] == "I.1" && $0[4] == "note" })
        #expect(note[7] == "Thị xã vùng cao, \"đặc thù\"; nhiều bản xa")
        #expect(note[9] == "Lò Văn Thắng")
        let money = try #require(rows.first { $0[4] == "reward_spending_total" })
        #expect(money[7] == "182500000")
        let csvText = String(decoding: OfficeCSV.values(input), as: UTF8.self)
        #expect(csvText.contains(",182500000,"), "numbers are written bare")
        #expect(csvText.contains("\r\n"))
    }

    @Test func findingsShowRetractionsAndProvenance() throws {
        let rows = try parseCSV(OfficeCSV.findings(input))
        #expect(rows.count == 4)
        let retracted = try #require(rows.first { $0[0] == "dev-b/2" })
        #expect(retracted[9] == "Có")
        #expect(retracted[10] == "Đã có quyết định trích lập")
        #expect(retracted[7] == "Quàng Thị Hoa")
        let practice = try #require(rows.first { $0[0] == "dev-a/4" })
        #expect(practice[5] == "Mô hình “Dân vận khéo” ở phường Na Lay")
        #expect(practice[4] == "Mô hình hay, điển hình tiên tiến")
    }

    @Test func conflictsListBothValues() throws {
        let rows = try parseCSV(OfficeCSV.conflicts(input))
        #expect(rows.count == 2)
        let row = rows[1]
        #expect(row[3] == "in_progress" && row[4] == "dev-b" && row[7] == "Có")
        #expect(row[8] == "done" && row[9] == "dev-a" && row[12] == "Không")
        #expect(row[13] == "Chưa")
    }

    @Test func unitsCarryDeadlines() throws {
        let rows = try parseCSV(OfficeCSV.units(input))
        let muongLay = try #require(rows.first { $0[0] == "muong-lay" })
        #expect(muongLay[1] == "UBND thị xã Mường Lay")
        #expect(muongLay[4] == "2024-06-20" && muongLay[5] == "2024-05-30" && muongLay[6] == "2024-06-15")
        #expect(muongLay[9] == "hạn thông báo 30/05/2024")
        #expect(rows.count == 1 + ExportFixture.plan.units.count)
    }

    /// The hub's statement of each device's signed log (PROTOCOL.md 19), in Vietnamese.
    @Test func logsStateWhetherEachDevicesLogVerified() throws {
        let logs: [ExportInput.DeviceLog] = [
            .init(device: "dev-b", key: "sha256:AfcZ7RtclYEgHADtzkA_6118-gabGPAGnogvrDoW3kM", confirmed: 12, verified: 1...12),
            .init(device: "dev-a", key: nil, confirmed: 5, verified: nil),
            .init(device: "dev-c", key: "sha256:tAEYVxCudrCi7qtG_pw3naycCC0CWVTA6YdU5IhKfcM", confirmed: 40, verified: 31...40),
            .init(device: "dev-d", key: nil, confirmed: 0, verified: nil),
        ]
        let rows = try parseCSV(OfficeCSV.logs(logs, input))
        #expect(rows[0] == ["Thiết bị", "Người giữ", "Khóa thiết bị", "Số thao tác đã nhận", "Xác minh từ", "Xác minh đến", "Nhật ký đã xác minh", "Ghi chú"])
        #expect(rows.map { $0[0] }.dropFirst() == ["dev-a", "dev-b", "dev-c", "dev-d"], "by device id")
        #expect(rows[1][6] == "Không" && rows[1][7] == "Chưa có chữ ký được xác minh")
        #expect(rows[2][6] == "Có" && rows[2][4] == "1" && rows[2][5] == "12")
        #expect(rows[3][6] == "Không" && rows[3][7] == "Thao tác #1–#30 nhận trước khi có chữ ký, chưa xác minh")
        #expect(rows[4][6] == "Có" && rows[4][7] == "Chưa có thao tác", "a device with nothing held has nothing unverified")
        var withLogs = input
        withLogs.logs = logs
        #expect(ExportFiles.make(withLogs).last?.name == "logs.csv")
        #expect(!ExportFiles.make(input).contains { $0.name == "logs.csv" }, "a device's export has no such statement")
    }
}

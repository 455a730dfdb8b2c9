import Foundation
import InspectorCore

/// The inspection workload: 12 units × 40 checklist items with `status` (4 values), `score` (0–100)
/// and `note` (~80 characters of Vietnamese), and findings of ~200 bytes of Vietnamese text.
/// Each op is 80% a set of one random field of a random item, 20% a finding. Fixed seeds.
struct Workload {
    static let unitCount = 12
    static let itemCount = 40

    /// The benchmark's plan, built as data like any plan file.
    static func makePlan() throws -> Plan {
        let units: [[String: Any]] = (1...unitCount).map { ["id": "don-vi-\($0)", "name": "Đơn vị kiểm tra số \($0)", "kind": "direct"] }
        let items: [[String: Any]] = (1...itemCount).map { index in
            ["id": "II.\(index)", "section": "II", "title": "Nội dung kiểm tra số \(index)", "guidance": "Hướng dẫn cho nội dung \(index).",
             "fields": [["id": "score", "title": "Điểm", "type": "integer", "min": 0, "max": 100]]]
        }
        let json: [String: Any] = [
            "format": Plan.formatTag, "id": "bench-2024", "reference": "BENCH/2024", "title": "Kế hoạch đo hiệu năng",
            "issuer": "InspectorSync", "issued": "2024-03-19",
            "dates": ["inspectionFrom": "2024-04-01", "inspectionTo": "2024-09-30", "documentsFrom": "2023-01-01",
                      "noticeWorkingDays": 15, "reportDaysBefore": 5, "selfInspectionReportDue": "2024-11-10"],
            "holidays": [String](), "ratings": [["id": "tot", "title": "Tốt"]], "units": units,
            "commonFields": [
                ["id": "status", "title": "Trạng thái", "type": "enum", "values": [
                    ["id": "not_started", "title": "Chưa bắt đầu"], ["id": "in_progress", "title": "Đang kiểm tra"],
                    ["id": "done", "title": "Đã hoàn thành"], ["id": "not_applicable", "title": "Không áp dụng"]]],
                ["id": "rating", "title": "Đánh giá", "type": "enum", "values": [["id": "tot", "title": "Tốt"]]],
                ["id": "note", "title": "Ghi chú", "type": "text", "maxLength": 4000],
            ],
            "sections": [["id": "II", "title": "Kết quả thực hiện"]], "items": items, "notes": [[String: Any]](),
        ]
        return try Plan.decode(from: JSONSerialization.data(withJSONObject: json))
    }

    static let words = ["kiểm", "tra", "công", "tác", "thi", "đua", "khen", "thưởng", "phong", "trào", "đơn", "vị", "hồ", "sơ",
                        "được", "lưu", "trữ", "đầy", "đủ", "cán", "bộ", "chuyên", "trách", "nhân", "rộng", "mô", "hình", "điển",
                        "tiên", "tiến", "quỹ", "trích", "lập", "Mường", "Lay", "Điện", "Biên", "xã", "phường", "bản"]

    /// One edit a device will make.
    enum Edit {
        case set(unit: String, item: String, field: String, value: String)
        case finding(unit: String, item: String, text: String)
    }

    /// The `count` edits of device number `device`, from a fixed seed.
    static func edits(device: Int, count: Int) -> [Edit] {
        var generator = EditGenerator(device: device)
        return (0..<count).map { _ in generator.next() }
    }

    /// The edits of one device, one after the other, from the device's fixed seed: the first `n`
    /// are those of ``edits(device:count:)`` with `count` n.
    struct EditGenerator {
        var rng: SplitMix64

        init(device: Int) {
            rng = SplitMix64(seed: 0x1181_2024 &+ UInt64(device) &* 0x9E37_79B9)
        }

        mutating func next() -> Edit {
            let unit = "don-vi-\(Int(rng.next() % UInt64(unitCount)) + 1)"
            let item = "II.\(Int(rng.next() % UInt64(itemCount)) + 1)"
            if rng.next() % 100 < 80 {
                switch rng.next() % 3 {
                case 0: return .set(unit: unit, item: item, field: "status", value: statuses[Int(rng.next() % 4)])
                case 1: return .set(unit: unit, item: item, field: "score", value: String(rng.next() % 101))
                default: return .set(unit: unit, item: item, field: "note", value: text(characters: 80))
                }
            }
            return .finding(unit: unit, item: item, text: text(characters: 150))
        }

        mutating func text(characters: Int) -> String {
            var out = ""
            while out.count < characters { out += (out.isEmpty ? "" : " ") + words[Int(rng.next() % UInt64(words.count))] }
            return out
        }
    }

    static let statuses = ["not_started", "in_progress", "done", "not_applicable"]

    /// The ops a device's edits would become, without recording them: for seeding hubs and for
    /// measuring the merge alone. Sequence numbers follow on from `next`; the timestamp of each is
    /// `stamp(sequence)` (milliseconds, counter 0), so the caller decides how devices interleave.
    struct OpGenerator {
        let device: String
        var edits: EditGenerator
        var sequence: Int64 = 0
        let stamp: @Sendable (Int64) -> Int64

        init(device: String, seed: Int, stamp: @escaping @Sendable (Int64) -> Int64) {
            self.device = device
            edits = EditGenerator(device: seed)
            self.stamp = stamp
        }

        mutating func next(_ count: Int) -> [Op] {
            (0..<count).map { _ in
                sequence += 1
                let timestamp = HLCTimestamp(millis: stamp(sequence), counter: 0, device: device)
                switch edits.next() {
                case .set(let unit, let item, let field, let value):
                    return .set(device: device, sequence: sequence, timestamp: timestamp, unit: unit, item: item, field: field, value: value)
                case .finding(let unit, let item, let text):
                    return .findingAdd(device: device, sequence: sequence, timestamp: timestamp, unit: unit, item: item, kind: .observation, text: text)
                }
            }
        }
    }
}

/// A small, fast, seeded generator (Steele, Lea, Flood 2014).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

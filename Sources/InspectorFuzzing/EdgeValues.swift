import InspectorCore

/// The values at and around every boundary an operation's parts have: the ones a session fuzzer
/// puts into ops, hellos and bundles.
///
/// Times come in two kinds: absolute (the ends of `Int64`, 2⁴⁸, the last valid millisecond of
/// 9999-12-31 and their neighbours) and relative to the hub's clock (its future tolerance of
/// 10 minutes, ± 1 ms, a day, a week). Texts cover what PROTOCOL.md 6.4 rules on: NFC, controls,
/// white space, the 4,000-character and the 16,384-byte caps.
enum EdgeValues {
    /// The future tolerance, 10 minutes in ms.
    static let tolerance = HybridLogicalClock.futureTolerance

    /// The last valid physical time, 9999-12-31T23:59:59.999Z.
    static let lastValidMillis = HLCTimestamp.validMillis.upperBound

    /// Physical times at every `Int64` and protocol boundary, and next to them.
    static let absoluteMillis: [Int64] = [
        0, 1, -1, Int64.max, Int64.max - 1, Int64.min, Int64.min + 1,
        1 << 48, (1 << 48) - 1, (1 << 48) + 1,
        lastValidMillis, lastValidMillis + 1, lastValidMillis - 1,
        1 << 32, 1 << 53, 1_718_845_320_000,
    ]

    /// Offsets from the hub's clock: the future tolerance ± 1, and ordinary skews.
    static let relativeMillis: [Int64] = [
        0, 1, -1, tolerance, tolerance + 1, tolerance - 1, -tolerance, -tolerance - 1, -tolerance + 1,
        1_000, -1_000, 60_000, 86_400_000, -86_400_000, 7 * 86_400_000, -7 * 86_400_000,
    ]

    /// How far behind the hub's clock an ordinary device stamps: it was offline for a while.
    static let ordinaryLag: [Int64] = [0, 0, 1, 17, 1_000, 60_000, 3_600_000, 86_400_000, 30 * 86_400_000]

    /// Offsets from the hub's clock paired with counters: the last counter of the last millisecond
    /// the future tolerance allows, and its neighbours.
    static let relativeStamps: [(millis: Int64, counter: Int64)] = [
        (tolerance, 65_535), (tolerance, 65_534), (tolerance - 1, 65_535), (tolerance + 1, 0), (0, 65_535), (-1, 65_535),
        (tolerance, 0), (tolerance, 65_536),
    ]

    /// Logical counters at and around 16 bits and the ends of `Int64`.
    static let counters: [Int64] = [0, 1, 2, 65_534, 65_535, 65_536, 65_537, 1 << 32, Int64.max, Int64.max - 1, -1, Int64.min]

    /// Sequence numbers at the edges.
    static let sequences: [Int64] = [0, -1, 1, Int64.max, Int64.max - 1, Int64.min, 1 << 53, 65_536]

    /// What a device's hello may say its clock reads, relative to the hub's: ordinary skews, and
    /// sums that reach the ends of `Int64` (taken with wrapping arithmetic).
    static let helloSkews: [Int64] = [
        0, 5, -5, 300_000, -300_001, 3 * 86_400_000, -3 * 86_400_000, Int64.max, Int64.min, Int64.min + 1, Int64.max - 1,
    ]

    /// Device ids a session does not enroll: another's, the hub's, malformed ones.
    static let strangerDevices: [String] = [
        "dev-z", Identifier.hubDevice, "Dev-A", "", "dev-a\u{0}", String(repeating: "d", count: 64), String(repeating: "d", count: 65),
        ".dev", "dev a", "dev-\u{E9}",
    ]

    /// Unit ids that name no unit, or are not ids.
    static let strangerUnits: [String] = ["xa-khong-co", "", "MUONG-LAY", "muong-lay ", "muong-lay\u{0}", String(repeating: "u", count: 65), "../so-y-te"]

    /// Item and field ids that do not exist or are not ids.
    static let strangerItems: [String] = ["IX.9", "", "II", "II.4 ", "ii.4", "II.4\u{0}", "I.1.a"]
    static let strangerFields: [String] = ["size", "", "Status", "status\u{0}", "rating ", "fund_percent"]

    /// Finding ids that name nothing, or are not of the `device/sequence` form.
    static let strangerFindings: [String] = [
        "dev-b/999", "dev-a/0", "dev-a/-1", "hub/1", "x", "", "dev-a/", "/1", "dev-a/9223372036854775807", "dev-a/1/2", "dev-a/01",
    ]

    /// Values for numeric fields: canonical ones and every near miss.
    static let numbers: [String] = [
        "0", "1", "-1", "-0", "00", "+1", "12.5", "12,5", "12.50", "1e2", "100", "100.01", "99.99", "0.001", "0.01", ".5", "5.",
        String(repeating: "9", count: 30), String(repeating: "9", count: 31), "-" + String(repeating: "9", count: 30),
        "\u{663}", "\u{FF11}", " 1", "1 ", "NaN", "Infinity", "0x10", "9223372036854775808", "",
    ]

    /// Dates: valid, impossible, out of range.
    static let dates: [String] = ["2024-06-20", "2024-02-29", "2023-02-29", "2024-02-30", "0001-01-01", "0000-01-01", "9999-12-31", "10000-01-01", "2024-6-20"]

    /// Ordinary texts, as inspectors write them.
    /// `attachment_add` values (PROTOCOL.md 6.6): honest ones, and each part at an edge.
    static let attachmentValues: [String] = {
        let hash = String(repeating: "5e", count: 32)
        return [
            "\(hash) 2048 image/jpeg Biên bản.jpg", "\(hash.dropLast(2))ab 1 application/pdf tờ trình số 12.pdf",
            "\(hash) 33554432 image/png a.png", "\(hash) 33554433 image/png a.png", "\(hash) 9223372036854775807 image/png a.png",
            "\(hash) 99999999999999999999 image/png a.png", "\(hash) 0 image/png a.png", "\(hash) -1 image/png a.png", "\(hash) 01 image/png a.png",
            "\(hash.uppercased()) 10 image/png a.png", "\(hash.dropLast()) 10 image/png a.png", "\(hash) 10 image/bmp a.bmp",
            "\(hash) 10 image/png ", "\(hash) 10 image/png a/b.png", "\(hash) 10 image/png Bie\u{0302}\u{0301}n.png", "\(hash) 10 image/png a\u{0}.png",
            "\(hash) 10 image/png \u{301}x.png", "\(hash)  10 image/png a.png", "\(hash) 10 image/png ..", "\(hash) 10", "",
            "\(hash) 10 image/png " + String(repeating: "ả", count: 86),
        ]
    }()

    static let plainTexts: [String] = [
        "Ghi nhận.", "Mô hình “Dân vận khéo”", "Chưa trích lập quỹ thi đua, khen thưởng theo quy định.", "Đơn vị đã bổ sung quyết định.",
    ]

    /// Texts at the edges of PROTOCOL.md 6.4: NFC or not, controls (C0, DEL, C1), white space at
    /// either end or inside, noncharacters, the 4,000-character cap and the 16,384-byte cap, exactly
    /// and one past.
    static let edgeTexts: [String] = [
        "x" + String(repeating: "\u{301}", count: 300),  // a stack of 300 combining marks: one character, NFC
        "e\u{301}", "Vie\u{323}\u{302}t Nam",  // not NFC
        "", " ", "a\u{0}b", "\u{0}", "a\u{1}b", "a\u{1B}[31m", "a\u{7F}b", "a\rb", "a\tb", "a\nb", "x\n",
        "a\u{80}b", "a\u{85}b", "a\u{9F}b", "x\u{85}",  // C1 controls, NEL
        "a\u{2028}b", "a\u{2029}b", "x\u{2028}", " x", "x ", "\u{3000}x", "\u{FEFF}x", "\u{200B}",
        scalars(0xFFFE), scalars(0x61, 0xFFFF, 0x62), scalars(0xFDD0), scalars(0x1FFFE), scalars(0x10FFFF),  // noncharacters
        "\u{202E}abc", "👩‍👩‍👧‍👦", "\"\\/", "<b>x</b>", "=1+1",
        String(repeating: "a", count: Text.defaultMaximumLength),
        String(repeating: "a", count: Text.defaultMaximumLength + 1),
        String(repeating: "ệ", count: Text.defaultMaximumLength),
        String(repeating: "𝄞", count: Text.defaultMaximumLength),  // 16,000 bytes
        String(repeating: "𝄞", count: Text.maximumBytes / 4),  // 16,384 bytes, but 4,096 characters
        // Exactly 16,384 bytes in two characters, then 16,385 bytes in three.
        "x" + String(repeating: "\u{301}", count: (Text.maximumBytes - 2) / 2) + "y",
        "x" + String(repeating: "\u{301}", count: (Text.maximumBytes - 2) / 2) + "yz",
        "x" + String(repeating: "\u{301}", count: 20_000),  // one character of 40,001 bytes
    ]

    /// Names for enrolled devices and supervisors, some of which the hub refuses.
    static let names: [String] = ["Lò Văn Thắng", "Quàng Thị Hoa", "Ha\u{300}", "x" + String(repeating: "\u{301}", count: 250), "", " ", "a\u{0}", String(repeating: "n", count: 201), "=cmd|' /C calc'!A0"]

    /// A string of these scalars (surrogates, which no string holds, are left out).
    static func scalars(_ values: UInt32...) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: values.compactMap(Unicode.Scalar.init))
        return String(view)
    }
}

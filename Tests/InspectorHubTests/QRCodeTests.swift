import Testing
@testable import InspectorHub
@testable import InspectorTestSupport

/// The QR code encoder, checked against published vectors and tables and read back by an
/// independent reader (``QRCodeTests/Reader``) that shares no code with it.
///
/// Sources of the expected values: ISO/IEC 18004 (Tables 7 and 9, Annex E, Annex I and the format
/// and version information tables), the Reed–Solomon examples of the Thonky QR code tutorial and
/// of swetake.com (as quoted in ZXing's encoder tests), and symbols made by the segno library.
@Suite("QRCode")
struct QRCodeTests {
    static let levels: [QRCode.CorrectionLevel] = [.low, .medium, .quartile, .high]

    // MARK: Reed–Solomon, against published vectors

    /// (data codewords, error correction codewords) pairs whose values were published.
    static let reedSolomonVectors: [(data: [UInt8], ec: [UInt8])] = [
        // Thonky tutorial, 1-M "HELLO WORLD".
        ([32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17],
         [196, 35, 39, 119, 235, 215, 231, 226, 93, 23]),
        // ISO/IEC 18004 Annex I, 1-M "01234567".
        ([0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11],
         [0xA5, 0x24, 0xD4, 0xC1, 0xED, 0x36, 0xC7, 0x87, 0x2C, 0x55]),
        // swetake.com qr3, 1-H.
        ([32, 65, 205, 69, 41, 220, 46, 128, 236],
         [42, 159, 74, 221, 244, 169, 239, 150, 138, 70, 237, 85, 224, 96, 74, 219, 61]),
        // swetake.com qr9, the first block of a 5-Q symbol.
        ([67, 70, 22, 38, 54, 70, 86, 102, 118, 134, 150, 166, 182, 198, 214],
         [175, 80, 155, 64, 178, 45, 214, 233, 65, 209, 12, 155, 117, 31, 140, 214, 27, 187]),
        // ZXing: a remainder whose leading coefficients are zero.
        ([32, 49, 205, 69, 42, 20, 0, 236, 17],
         [0, 3, 130, 179, 194, 0, 55, 211, 110, 79, 98, 72, 170, 96, 211, 137, 213]),
    ]

    @Test("Reed–Solomon codewords equal the published ones", arguments: reedSolomonVectors.indices)
    func reedSolomonMatchesPublishedVectors(index: Int) {
        let (data, ec) = Self.reedSolomonVectors[index]
        let generator = QRCode.reedSolomonGenerator(degree: ec.count)
        #expect(QRCode.reedSolomonRemainder(of: data, generator: generator) == ec)
        // And the reader's own check agrees: the whole codeword has zero syndromes.
        #expect((0..<ec.count).allSatisfy { Reference.evaluate((data + ec).map(Int.init), at: Reference.alphaPower($0)) == 0 })
    }

    @Test("Generator polynomials equal the published ones (ISO/IEC 18004 Annex A)")
    func generatorPolynomials() {
        // Exponents of α of the coefficients after the leading x^n.
        let published: [Int: [Int]] = [
            7: [87, 229, 146, 149, 238, 102, 21],
            10: [251, 67, 46, 61, 118, 70, 64, 94, 32, 45],
        ]
        for (degree, exponents) in published {
            #expect(QRCode.reedSolomonGenerator(degree: degree).map(Int.init) == exponents.map(Reference.alphaPower))
        }
    }

    @Test("Blocks are interleaved as in the published 5-Q example (swetake.com qr8)")
    func interleaving() {
        let data: [UInt8] = [
            67, 70, 22, 38, 54, 70, 86, 102, 118, 134, 150, 166, 182, 198, 214, 230, 247, 7, 23, 39, 55, 71,
            87, 103, 119, 135, 151, 166, 22, 38, 54, 70, 86, 102, 118, 134, 150, 166, 182, 198, 214, 230, 247,
            7, 23, 39, 55, 71, 87, 103, 119, 135, 151, 160, 236, 17, 236, 17, 236, 17, 236, 17,
        ]
        let expected: [UInt8] = [
            67, 230, 54, 55, 70, 247, 70, 71, 22, 7, 86, 87, 38, 23, 102, 103, 54, 39, 118, 119, 70, 55, 134,
            135, 86, 71, 150, 151, 102, 87, 166, 160, 118, 103, 182, 236, 134, 119, 198, 17, 150, 135, 214, 236,
            166, 151, 230, 17, 182, 166, 247, 236, 198, 22, 7, 17, 214, 38, 23, 236, 39, 17,
            175, 155, 245, 236, 80, 146, 56, 74, 155, 165, 133, 142, 64, 183, 132, 13, 178, 54, 132, 108, 45,
            113, 53, 50, 214, 98, 193, 152, 233, 147, 50, 71, 65, 190, 82, 51, 209, 199, 171, 54, 12, 112, 57,
            113, 155, 117, 211, 164, 117, 30, 158, 225, 31, 190, 242, 38, 140, 61, 179, 154, 214, 138, 147, 87,
            27, 96, 77, 47, 187, 49, 156, 214,
        ]
        #expect(QRCode.interleavedCodewords(data: data, version: 5, correction: .quartile) == expected)
    }

    // MARK: Tables, against the standard

    @Test("Format information equals the standard's 32 values")
    func formatInformation() {
        #expect(QRCode.formatBits(correction: .medium, mask: 0) == 0b101010000010010)
        for (level, row) in zip(Self.levels, Reference.formatInformation) {
            for (mask, bits) in row.enumerated() {
                #expect(QRCode.formatBits(correction: level, mask: mask) == Int(bits, radix: 2), "\(level) mask \(mask)")
            }
        }
    }

    @Test("Version information equals the standard's values for versions 7 to 40")
    func versionInformation() {
        #expect(QRCode.versionBits(version: 7) == 0x07C94)
        for (offset, bits) in Reference.versionInformation.enumerated() {
            #expect(QRCode.versionBits(version: 7 + offset) == bits, "version \(7 + offset)")
        }
    }

    @Test("Alignment pattern centres equal ISO/IEC 18004 Annex E")
    func alignmentCentres() {
        for version in 1...40 {
            #expect(QRCode.alignmentPositions(version: version) == Reference.alignmentCentres[version], "version \(version)")
        }
    }

    @Test("Codeword counts and byte capacities equal ISO/IEC 18004 Tables 7 and 9")
    func capacities() {
        for version in 1...40 {
            for level in Self.levels {
                let blocks = Reference.blocks(version: version, level: level)
                let total = blocks.reduce(0) { $0 + $1.total }
                let data = blocks.reduce(0) { $0 + $1.data }
                #expect(QRCode.totalCodewordCount(version: version) == total, "\(version)-\(level)")
                #expect(QRCode.dataCodewordCount(version: version, correction: level) == data, "\(version)-\(level)")
                let header = 4 + (version <= 9 ? 8 : 16)
                #expect(QRCode.byteCapacity(version: version, correction: level) == (data * 8 - header) / 8)
            }
        }
        // Byte-mode capacities printed in Table 7.
        let printed: [(Int, QRCode.CorrectionLevel, Int)] = [
            (1, .low, 17), (1, .medium, 14), (1, .quartile, 11), (1, .high, 7),
            (9, .low, 230), (10, .low, 271), (10, .high, 119), (26, .medium, 1059),
            (40, .low, 2953), (40, .medium, 2331), (40, .quartile, 1663), (40, .high, 1273),
        ]
        for (version, level, bytes) in printed {
            #expect(QRCode.byteCapacity(version: version, correction: level) == bytes)
        }
    }

    @Test("The character count takes 8 bits up to version 9 and 16 from version 10")
    func characterCountWidth() {
        #expect(Array(QRCode.dataCodewords(for: [0xAB], version: 9, correction: .low).prefix(4)) == [0x40, 0x1A, 0xB0, 0xEC])
        #expect(Array(QRCode.dataCodewords(for: [0xAB], version: 10, correction: .low).prefix(5)) == [0x40, 0x00, 0x1A, 0xB0, 0xEC])
    }

    // MARK: Symbols

    @Test("The smallest version that holds the data is chosen, at every version", arguments: levels)
    func versionBoundaries(level: QRCode.CorrectionLevel) throws {
        var generator = SplitMix64(seed: 0x0051_C0DE)
        for version in 1...40 {
            let capacity = Reference.byteCapacity(version: version, level: level)
            let full = (0..<capacity).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let code = try QRCode(encoding: full, correction: level)
            #expect(code.version == version)
            #expect(code.size == 17 + 4 * version)
            // Every block structure of Table 9, read back by the reader.
            #expect(try Reader.read(code) == Reader.Result(version: version, level: level, mask: code.mask, payload: full))
            if version < 40 {
                #expect(try QRCode(encoding: full + [0x5A], correction: level).version == version + 1)
            }
        }
    }

    /// The seed of ``randomPayloadsRoundTrip()``; change it to explore other payloads.
    static let roundTripSeed: UInt64 = 0x2024_1181_0A0B_0C0D

    @Test("Seeded random payloads of every level read back byte for byte")
    func randomPayloadsRoundTrip() throws {
        print("QRCode round trip: seed 0x\(String(Self.roundTripSeed, radix: 16))")
        var generator = SplitMix64(seed: Self.roundTripSeed)
        for index in 0..<320 {
            let level = Self.levels[index % 4]
            let maximum = Reference.byteCapacity(version: 40, level: level)
            let length = switch index % 8 / 2 {  // mostly short, as enrolment codes are
            case 0, 1: Int.random(in: 0...64, using: &generator)
            case 2: Int.random(in: 0...400, using: &generator)
            default: Int.random(in: 0...maximum, using: &generator)
            }
            let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let code = try QRCode(encoding: payload, correction: level)
            let result = try Reader.read(code)
            #expect(result.payload == payload, "case \(index), seed \(Self.roundTripSeed)")
            #expect(result.level == level && result.mask == code.mask && result.version == code.version)
            let smallest = (1...40).first { Reference.byteCapacity(version: $0, level: level) >= length }
            #expect(code.version == smallest, "case \(index): \(length) bytes at \(level)")
        }
    }

    @Test("Each of the eight masks reads back", arguments: [1, 7, 10])
    func everyMask(version: Int) throws {
        let payload = Array("enroll!".utf8)  // 7 bytes: what 1-H holds
        for mask in 0...7 {
            for level in Self.levels {
                let code = try QRCode(bytes: payload, correction: level, version: version, mask: mask)
                #expect(try Reader.read(code) == Reader.Result(version: version, level: level, mask: mask, payload: payload))
            }
        }
    }

    @Test("The chosen mask has the lowest penalty (N1–N4), the first on a tie")
    func lowestPenalty() throws {
        var generator = SplitMix64(seed: 7)
        for index in 0..<16 {
            let level = Self.levels[index % 4]
            let payload = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let chosen = try QRCode(encoding: payload, correction: level)
            let candidates = try (0...7).map { try QRCode(bytes: payload, correction: level, version: chosen.version, mask: $0) }
            let penalties = candidates.map(Reference.penalty)
            #expect(candidates.map(\.penalty) == penalties, "the encoder's own scores")
            #expect(chosen.mask == penalties.firstIndex(of: penalties.min()!), "penalties \(penalties)")
            #expect(chosen == candidates[chosen.mask])
        }
    }

    @Test("The penalty score follows N1–N4 on made-up matrices")
    func penaltyRules() {
        // All dark, 21 × 21: N1 (3 + 16) × 42 lines, N2 3 × 20², N4 10 × 10 (100 % dark).
        #expect(QRCode.penalty(of: Array(repeating: true, count: 441), size: 21) == 798 + 1200 + 100)
        // A checkerboard has no runs, blocks or finder-like patterns, and 221 of 441 dark.
        #expect(QRCode.penalty(of: (0..<441).map { ($0 / 21 + $0 % 21) % 2 == 0 }, size: 21) == 0)
        // Seeded random matrices, from mostly light to mostly dark, against the reference.
        var generator = SplitMix64(seed: 3)
        for size in [21, 25, 57] {
            for darkPercent in stride(from: 5, through: 95, by: 15) {
                let modules = (0..<size * size).map { _ in Int.random(in: 0..<100, using: &generator) < darkPercent }
                let expected = Reference.penalty(size: size) { modules[$1 * size + $0] }
                #expect(QRCode.penalty(of: modules, size: size) == expected, "\(size) × \(size), \(darkPercent) % dark")
            }
        }
    }

    @Test("Finder, separator and timing patterns and the dark module sit where the standard puts them")
    func functionPatterns() throws {
        for text in ["a", String(repeating: "b", count: 110)] {  // versions 1 and 7
            let code = try QRCode(encoding: text, correction: .medium)
            let n = code.size
            let finder = [
                "#######", "#.....#", "#.###.#", "#.###.#", "#.###.#", "#.....#", "#######",
            ]
            for (originX, originY) in [(0, 0), (n - 7, 0), (0, n - 7)] {
                for (dy, row) in finder.enumerated() {
                    for (dx, cell) in row.enumerated() {
                        #expect(code[originX + dx, originY + dy] == (cell == "#"), "finder at \(originX), \(originY)")
                    }
                }
            }
            for i in 0..<8 {  // separators
                #expect(!code[7, i] && !code[i, 7] && !code[n - 8, i] && !code[n - 1 - i, 7] && !code[7, n - 1 - i] && !code[i, n - 8])
            }
            for i in 8..<(n - 8) {
                #expect(code[i, 6] == (i % 2 == 0) && code[6, i] == (i % 2 == 0), "timing at \(i)")
            }
            #expect(code[8, n - 8], "the dark module")
            #expect(!code[-1, 0] && !code[0, n] && !code[n, n], "outside is light")
        }
        let version7 = try QRCode(encoding: String(repeating: "b", count: 110), correction: .medium)
        #expect(version7.version == 7)
        // The version information of version 7, 000111110010010100, in the bottom-left block:
        // bit i at column i / 3, row size − 11 + i % 3.
        let bits = (0..<18).reduce(0) { $0 | (version7[$1 / 3, version7.size - 11 + $1 % 3] ? 1 << $1 : 0) }
        #expect(bits == 0x07C94)
    }

    @Test("Symbols equal the ones segno makes for the same data, level and mask")
    func referenceSymbols() throws {
        // "Hello, world!" at L: version 1, mask 3.
        let hello = try QRCode(encoding: "Hello, world!", correction: .low)
        let art = [
            "#######.#.###.#######", "#.....#...##..#.....#", "#.###.#.##.#..#.###.#",
            "#.###.#.##..#.#.###.#", "#.###.#.#..#..#.###.#", "#.....#..####.#.....#",
            "#######.#.#.#.#######", "...........##........", "####..#.######..###.#",
            "#...##..#.#.##..###.#", ".##.###..###.#.#...##", "#.####..####....##.#.",
            "..#####.#...#.##....#", "........#..###..#.#.#", "#######..##...#.#....",
            "#.....#..#..##.#.###.", "#.###.#..##..#.#####.", "#.###.#.#...##...###.",
            "#.###.#.#..##.##..#..", "#.....#.#.##.####...#", "#######.#.######..#..",
        ]
        #expect(hello.version == 1 && hello.mask == 3)
        #expect((0..<21).map { y in String((0..<21).map { hello[$0, y] ? "#" : "." }) } == art)

        // Larger symbols by a hash (FNV-1a, 64 bits) of their modules, row by row, "1" for dark.
        func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) } }
        let pinned: [(bytes: [UInt8], level: QRCode.CorrectionLevel, version: Int, mask: Int, hash: UInt64)] = [
            (pattern(80), .quartile, 7, 1, 0x9841_E7AA_D958_A962),
            (pattern(200), .medium, 10, 2, 0xDA26_1073_4308_A4B1),
            (pattern(600), .high, 27, 1, 0x499C_F5D6_40A2_2DAC),
            (pattern(2953), .low, 40, 6, 0xB6A2_7E17_F261_A03B),
            (pattern(1273), .high, 40, 6, 0x2BDD_56AD_EC7B_5473),
            (Array("inspector-hub://enroll?host=192.168.1.20:7443&device=tablet-07&code=K7Q2-9XFD".utf8),
             .medium, 5, 6, 0xA2DC_AB42_20AA_756D),
        ]
        for (bytes, level, version, mask, hash) in pinned {
            let code = try QRCode(encoding: bytes, correction: level)
            #expect(code.version == version && code.mask == mask)
            #expect(Reference.fnv1a(code) == hash, "\(bytes.count) bytes at \(level)")
        }
    }

    @Test("Text is encoded as its UTF-8 bytes")
    func text() throws {
        let text = "Mường Lay · thiết bị 07 ✓"
        let code = try QRCode(encoding: text, correction: .quartile)
        let fromBytes = try QRCode(encoding: Array(text.utf8), correction: .quartile)
        #expect(code == fromBytes)
        #expect(try Reader.read(code).payload == Array(text.utf8))
        #expect(try QRCode(encoding: "").version == 1)
    }

    @Test("Data longer than version 40 holds is refused with both lengths", arguments: zip(levels, [2953, 2331, 1663, 1273]))
    func tooLong(level: QRCode.CorrectionLevel, maximum: Int) throws {
        #expect(try QRCode(encoding: [UInt8](repeating: 0x41, count: maximum), correction: level).version == 40)
        let error = #expect(throws: QRCode.EncodingError.self) {
            try QRCode(encoding: [UInt8](repeating: 0x41, count: maximum + 1), correction: level)
        }
        #expect(error == .tooLong(byteCount: maximum + 1, maximum: maximum))
        let description = error.map(String.init(describing:)) ?? ""
        #expect(description.contains("\(maximum + 1) bytes") && description.contains("\(maximum) bytes"))
    }

    // MARK: Terminal text

    @Test("Terminal text has a column per module and a line per two rows", arguments: [0, 1, 2, 4], [false, true])
    func terminalTextShape(quietZone: Int, inverted: Bool) throws {
        for text in ["x", String(repeating: "y", count: 300)] {
            let code = try QRCode(encoding: text)
            let rendered = code.terminalText(quietZone: quietZone, inverted: inverted)
            let width = code.size + 2 * quietZone
            #expect(rendered.last == "\n")
            let lines = rendered.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            #expect(lines.count == (width + 1) / 2)
            #expect(lines.allSatisfy { $0.count == width && $0.unicodeScalars.count == width })
            #expect(rendered.allSatisfy { "█▀▄ \n".contains($0) })
        }
    }

    @Test("Terminal text draws every module, and the quiet zone light", arguments: [false, true])
    func terminalTextModules(inverted: Bool) throws {
        let code = try QRCode(encoding: "inspector-hub://enroll?code=K7Q2-9XFD", correction: .high)
        let quietZone = 3
        let lines = code.terminalText(quietZone: quietZone, inverted: inverted).split(separator: "\n")
        for (row, line) in lines.enumerated() {
            for (column, glyph) in line.enumerated() {
                let halves: (top: Bool, bottom: Bool) = switch glyph {
                case "█": (true, true)
                case "▀": (true, false)
                case "▄": (false, true)
                default: (false, false)
                }
                let x = column - quietZone
                let top = 2 * row - quietZone
                // A glyph half is drawn for a dark module, or for a light one when inverted.
                #expect(halves.top == (code[x, top] != inverted), "(\(x), \(top))")
                if 2 * row + 1 < code.size + 2 * quietZone {
                    #expect(halves.bottom == (code[x, top + 1] != inverted), "(\(x), \(top + 1))")
                } else {
                    #expect(!halves.bottom, "nothing is drawn below the quiet zone")
                }
            }
        }
        // The top of the top-left finder, with no quiet zone: rows 0 and 1 are ####### and #.....#.
        let first = code.terminalText(quietZone: 0, inverted: inverted).prefix(7)
        #expect(first == (inverted ? " ▄▄▄▄▄ " : "█▀▀▀▀▀█"))
    }
}

// MARK: - An independent reader

extension QRCodeTests {
    /// Reads a symbol back the way a scanner would, from the standard alone: it checks the
    /// function patterns, the BCH codes of the format and version information and the
    /// Reed–Solomon syndromes of every block, and parses the byte-mode segment and its padding.
    enum Reader {
        struct Result: Equatable {
            var version: Int
            var level: QRCode.CorrectionLevel
            var mask: Int
            var payload: [UInt8]
        }

        struct Failure: Error, CustomStringConvertible {
            let description: String
        }

        static func read(_ code: QRCode) throws -> Result {
            let n = code.size
            func fail(_ message: String) -> Failure { Failure(description: message) }
            guard n >= 21, n <= 177, (n - 17) % 4 == 0 else { throw fail("\(n) is not the size of a QR code") }
            let version = (n - 17) / 4

            // Finder patterns with their separators, timing patterns, the dark module.
            for (originX, originY) in [(0, 0), (n - 7, 0), (0, n - 7)] {
                for dy in -1...7 {
                    for dx in -1...7 {
                        let x = originX + dx, y = originY + dy
                        guard (0..<n).contains(x), (0..<n).contains(y) else { continue }
                        let separator = dx == -1 || dx == 7 || dy == -1 || dy == 7
                        let expected = !separator && max(abs(dx - 3), abs(dy - 3)) != 2
                        guard code[x, y] == expected else { throw fail("finder at (\(originX), \(originY)) is wrong at (\(x), \(y))") }
                    }
                }
            }
            for i in 8..<(n - 8) where code[i, 6] != (i % 2 == 0) || code[6, i] != (i % 2 == 0) {
                throw fail("timing pattern wrong at \(i)")
            }
            guard code[8, n - 8] else { throw fail("no dark module") }

            // Which modules carry data.
            var reserved = Array(repeating: Array(repeating: false, count: n), count: n)  // [y][x]
            for y in 0..<n {
                for x in 0..<n {
                    let finderAndFormat = (x < 9 && y < 9) || (x >= n - 8 && y < 9) || (x < 9 && y >= n - 8)
                    let versionBlocks = version >= 7 && ((x >= n - 11 && x < n - 8 && y < 6) || (y >= n - 11 && y < n - 8 && x < 6))
                    reserved[y][x] = finderAndFormat || versionBlocks || x == 6 || y == 6
                }
            }
            let centres = Reference.alignmentCentres[version]
            for cy in centres {
                for cx in centres where !((cx < 9 && cy < 9) || (cx > n - 9 && cy < 9) || (cx < 9 && cy > n - 9)) {
                    for dy in -2...2 {
                        for dx in -2...2 {
                            guard code[cx + dx, cy + dy] == (max(abs(dx), abs(dy)) != 1) else {
                                throw fail("alignment pattern at (\(cx), \(cy)) is wrong")
                            }
                            reserved[cy + dy][cx + dx] = true
                        }
                    }
                }
            }

            // Format information, most significant bit first, in both copies.
            func word(_ cells: [(Int, Int)]) -> Int { cells.reduce(0) { $0 << 1 | (code[$1.0, $1.1] ? 1 : 0) } }
            let first = word([(0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (7, 8), (8, 8), (8, 7),
                              (8, 5), (8, 4), (8, 3), (8, 2), (8, 1), (8, 0)])
            let second = word((0..<7).map { (8, n - 1 - $0) } + (0..<8).map { (n - 8 + $0, 8) })
            guard first == second else { throw fail("the two copies of the format information differ") }
            let format = first ^ 0b101010000010010
            guard Reference.remainder(format, dividedBy: 0b10100110111) == 0 else { throw fail("format BCH check failed") }
            let level: QRCode.CorrectionLevel = switch format >> 13 {
            case 0b01: .low
            case 0b00: .medium
            case 0b11: .quartile
            default: .high
            }
            let mask = (format >> 10) & 0b111

            // Version information: bit i at (i / 3, n − 11 + i % 3) and mirrored, bit 17 first.
            if version >= 7 {
                let bottomLeft = word((0..<18).reversed().map { ($0 / 3, n - 11 + $0 % 3) })
                let topRight = word((0..<18).reversed().map { (n - 11 + $0 % 3, $0 / 3) })
                guard bottomLeft == topRight else { throw fail("the two copies of the version information differ") }
                guard Reference.remainder(bottomLeft, dividedBy: 0b1111100100101) == 0 else { throw fail("version BCH check failed") }
                guard bottomLeft >> 12 == version else { throw fail("version information says \(bottomLeft >> 12)") }
            }

            // The data bits, unmasked, in two-module columns from the right, up then down.
            var bits: [Bool] = []
            var column = n - 1
            var upward = true
            while column > 0 {
                if column == 6 { column = 5 }
                for y in upward ? Array((0..<n).reversed()) : Array(0..<n) {
                    for x in [column, column - 1] where !reserved[y][x] {
                        bits.append(code[x, y] != Reference.maskCondition(mask, i: y, j: x))
                    }
                }
                upward.toggle()
                column -= 2
            }
            let blocks = Reference.blocks(version: version, level: level)
            let total = blocks.reduce(0) { $0 + $1.total }
            guard bits.count == total * 8 + Reference.remainderBits(version: version) else {
                throw fail("\(bits.count) data modules for \(total) codewords")
            }
            guard !bits[(total * 8)...].contains(true) else { throw fail("remainder bits are not zero") }
            let codewords = stride(from: 0, to: total * 8, by: 8).map { start in
                bits[start..<start + 8].reduce(0) { $0 << 1 | ($1 ? 1 : 0) }
            }

            // De-interleave, and check every block's syndromes.
            var blockWords = blocks.map { _ in [Int]() }
            var next = codewords.makeIterator()
            for i in 0..<blocks.map(\.data).max()! {
                for b in blocks.indices where i < blocks[b].data { blockWords[b].append(next.next()!) }
            }
            let ecCount = blocks[0].total - blocks[0].data
            for _ in 0..<ecCount {
                for b in blocks.indices { blockWords[b].append(next.next()!) }
            }
            for (b, words) in blockWords.enumerated() {
                for k in 0..<ecCount where Reference.evaluate(words, at: Reference.alphaPower(k)) != 0 {
                    throw fail("block \(b) has a non-zero syndrome S\(k)")
                }
            }

            // One byte-mode segment, the terminator, zero bits to a codeword, pad codewords.
            var stream = BitStream(words: zip(blockWords, blocks).flatMap { $0.0.prefix($0.1.data) })
            guard stream.read(4) == 0b0100 else { throw fail("not byte mode") }
            let count = stream.read(version <= 9 ? 8 : 16)
            guard count * 8 <= stream.remaining else { throw fail("count \(count) is longer than the data") }
            let payload = (0..<count).map { _ in UInt8(stream.read(8)) }
            guard stream.read(min(4, stream.remaining)) == 0 else { throw fail("no terminator") }
            guard stream.read((8 - stream.position % 8) % 8) == 0 else { throw fail("padding bits are not zero") }
            var pad = 0b11101100
            while stream.remaining > 0 {
                guard stream.read(8) == pad else { throw fail("wrong pad codeword") }
                pad = pad == 0b11101100 ? 0b00010001 : 0b11101100
            }
            return Result(version: version, level: level, mask: mask, payload: payload)
        }

        struct BitStream {
            let words: [Int]
            var position = 0
            var remaining: Int { words.count * 8 - position }

            mutating func read(_ count: Int) -> Int {
                var value = 0
                for _ in 0..<count {
                    value = value << 1 | (words[position / 8] >> (7 - position % 8)) & 1
                    position += 1
                }
                return value
            }
        }
    }

}

// MARK: - Reference values and arithmetic

extension QRCodeTests {
    enum Reference {
        /// ISO/IEC 18004 Table 9: per version, for L | M | Q | H, groups of
        /// `blocks(total codewords, data codewords)`.
        static let table9 = """
             1: 1(26,19) | 1(26,16) | 1(26,13) | 1(26,9)
             2: 1(44,34) | 1(44,28) | 1(44,22) | 1(44,16)
             3: 1(70,55) | 1(70,44) | 2(35,17) | 2(35,13)
             4: 1(100,80) | 2(50,32) | 2(50,24) | 4(25,9)
             5: 1(134,108) | 2(67,43) | 2(33,15) 2(34,16) | 2(33,11) 2(34,12)
             6: 2(86,68) | 4(43,27) | 4(43,19) | 4(43,15)
             7: 2(98,78) | 4(49,31) | 2(32,14) 4(33,15) | 4(39,13) 1(40,14)
             8: 2(121,97) | 2(60,38) 2(61,39) | 4(40,18) 2(41,19) | 4(40,14) 2(41,15)
             9: 2(146,116) | 3(58,36) 2(59,37) | 4(36,16) 4(37,17) | 4(36,12) 4(37,13)
            10: 2(86,68) 2(87,69) | 4(69,43) 1(70,44) | 6(43,19) 2(44,20) | 6(43,15) 2(44,16)
            11: 4(101,81) | 1(80,50) 4(81,51) | 4(50,22) 4(51,23) | 3(36,12) 8(37,13)
            12: 2(116,92) 2(117,93) | 6(58,36) 2(59,37) | 4(46,20) 6(47,21) | 7(42,14) 4(43,15)
            13: 4(133,107) | 8(59,37) 1(60,38) | 8(44,20) 4(45,21) | 12(33,11) 4(34,12)
            14: 3(145,115) 1(146,116) | 4(64,40) 5(65,41) | 11(36,16) 5(37,17) | 11(36,12) 5(37,13)
            15: 5(109,87) 1(110,88) | 5(65,41) 5(66,42) | 5(54,24) 7(55,25) | 11(36,12) 7(37,13)
            16: 5(122,98) 1(123,99) | 7(73,45) 3(74,46) | 15(43,19) 2(44,20) | 3(45,15) 13(46,16)
            17: 1(135,107) 5(136,108) | 10(74,46) 1(75,47) | 1(50,22) 15(51,23) | 2(42,14) 17(43,15)
            18: 5(150,120) 1(151,121) | 9(69,43) 4(70,44) | 17(50,22) 1(51,23) | 2(42,14) 19(43,15)
            19: 3(141,113) 4(142,114) | 3(70,44) 11(71,45) | 17(47,21) 4(48,22) | 9(39,13) 16(40,14)
            20: 3(135,107) 5(136,108) | 3(67,41) 13(68,42) | 15(54,24) 5(55,25) | 15(43,15) 10(44,16)
            21: 4(144,116) 4(145,117) | 17(68,42) | 17(50,22) 6(51,23) | 19(46,16) 6(47,17)
            22: 2(139,111) 7(140,112) | 17(74,46) | 7(54,24) 16(55,25) | 34(37,13)
            23: 4(151,121) 5(152,122) | 4(75,47) 14(76,48) | 11(54,24) 14(55,25) | 16(45,15) 14(46,16)
            24: 6(147,117) 4(148,118) | 6(73,45) 14(74,46) | 11(54,24) 16(55,25) | 30(46,16) 2(47,17)
            25: 8(132,106) 4(133,107) | 8(75,47) 13(76,48) | 7(54,24) 22(55,25) | 22(45,15) 13(46,16)
            26: 10(142,114) 2(143,115) | 19(74,46) 4(75,47) | 28(50,22) 6(51,23) | 33(46,16) 4(47,17)
            27: 8(152,122) 4(153,123) | 22(73,45) 3(74,46) | 8(53,23) 26(54,24) | 12(45,15) 28(46,16)
            28: 3(147,117) 10(148,118) | 3(73,45) 23(74,46) | 4(54,24) 31(55,25) | 11(45,15) 31(46,16)
            29: 7(146,116) 7(147,117) | 21(73,45) 7(74,46) | 1(53,23) 37(54,24) | 19(45,15) 26(46,16)
            30: 5(145,115) 10(146,116) | 19(75,47) 10(76,48) | 15(54,24) 25(55,25) | 23(45,15) 25(46,16)
            31: 13(145,115) 3(146,116) | 2(74,46) 29(75,47) | 42(54,24) 1(55,25) | 23(45,15) 28(46,16)
            32: 17(145,115) | 10(74,46) 23(75,47) | 10(54,24) 35(55,25) | 19(45,15) 35(46,16)
            33: 17(145,115) 1(146,116) | 14(74,46) 21(75,47) | 29(54,24) 19(55,25) | 11(45,15) 46(46,16)
            34: 13(145,115) 6(146,116) | 14(74,46) 23(75,47) | 44(54,24) 7(55,25) | 59(46,16) 1(47,17)
            35: 12(151,121) 7(152,122) | 12(75,47) 26(76,48) | 39(54,24) 14(55,25) | 22(45,15) 41(46,16)
            36: 6(151,121) 14(152,122) | 6(75,47) 34(76,48) | 46(54,24) 10(55,25) | 2(45,15) 64(46,16)
            37: 17(152,122) 4(153,123) | 29(74,46) 14(75,47) | 49(54,24) 10(55,25) | 24(45,15) 46(46,16)
            38: 4(152,122) 18(153,123) | 13(74,46) 32(75,47) | 48(54,24) 14(55,25) | 42(45,15) 32(46,16)
            39: 20(147,117) 4(148,118) | 40(75,47) 7(76,48) | 43(54,24) 22(55,25) | 10(45,15) 67(46,16)
            40: 19(148,118) 6(149,119) | 18(75,47) 31(76,48) | 34(54,24) 34(55,25) | 20(45,15) 61(46,16)
            """

        /// Table 9 parsed: per version (index 0 unused) and level (L, M, Q, H), the blocks in
        /// order as (total codewords, data codewords).
        static let parsedTable9: [[[(total: Int, data: Int)]]] = {
            var result: [[[(total: Int, data: Int)]]] = [[]]
            for line in table9.split(separator: "\n") {
                let columns = line.split(separator: ":")[1].split(separator: "|")
                result.append(columns.map { column in
                    column.split(separator: " ").flatMap { group -> [(total: Int, data: Int)] in
                        let parts = group.split(whereSeparator: { "(,)".contains($0) }).map { Int($0)! }
                        return Array(repeating: (parts[1], parts[2]), count: parts[0])
                    }
                })
            }
            return result
        }()

        static func blocks(version: Int, level: QRCode.CorrectionLevel) -> [(total: Int, data: Int)] {
            parsedTable9[version][QRCodeTests.levels.firstIndex(of: level)!]
        }

        /// The byte-mode capacity: data bits less the mode indicator and the character count.
        static func byteCapacity(version: Int, level: QRCode.CorrectionLevel) -> Int {
            let data = blocks(version: version, level: level).reduce(0) { $0 + $1.data }
            return (data * 8 - 4 - (version <= 9 ? 8 : 16)) / 8
        }

        /// ISO/IEC 18004 Table 1: the remainder bits after the last codeword.
        static func remainderBits(version: Int) -> Int {
            switch version {
            case 2...6: 7
            case 14...20, 28...34: 3
            case 21...27: 4
            default: 0
            }
        }

        /// Format information for L, M, Q, H and masks 0 to 7, as the standard lists it.
        static let formatInformation: [[String]] = [
            ["111011111000100", "111001011110011", "111110110101010", "111100010011101",
             "110011000101111", "110001100011000", "110110001000001", "110100101110110"],
            ["101010000010010", "101000100100101", "101111001111100", "101101101001011",
             "100010111111001", "100000011001110", "100111110010111", "100101010100000"],
            ["011010101011111", "011000001101000", "011111100110001", "011101000000110",
             "010010010110100", "010000110000011", "010111011011010", "010101111101101"],
            ["001011010001001", "001001110111110", "001110011100111", "001100111010000",
             "000011101100010", "000001001010101", "000110100001100", "000100000111011"],
        ]

        /// Version information for versions 7 to 40 (ISO/IEC 18004 Annex D, Table D.1).
        static let versionInformation = [
            0x07C94, 0x085BC, 0x09A99, 0x0A4D3, 0x0BBF6, 0x0C762, 0x0D847, 0x0E60D, 0x0F928, 0x10B78,
            0x1145D, 0x12A17, 0x13532, 0x149A6, 0x15683, 0x168C9, 0x177EC, 0x18EC4, 0x191E1, 0x1AFAB,
            0x1B08E, 0x1CC1A, 0x1D33F, 0x1ED75, 0x1F250, 0x209D5, 0x216F0, 0x228BA, 0x2379F, 0x24B0B,
            0x2542E, 0x26A64, 0x27541, 0x28C69,
        ]

        /// ISO/IEC 18004 Annex E, Table E.1: alignment pattern centres, by version.
        static let alignmentCentres: [[Int]] = [
            [], [],
            [6, 18], [6, 22], [6, 26], [6, 30], [6, 34],
            [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50], [6, 30, 54], [6, 32, 58], [6, 34, 62],
            [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78], [6, 30, 56, 82],
            [6, 30, 58, 86], [6, 34, 62, 90],
            [6, 28, 50, 72, 94], [6, 26, 50, 74, 98], [6, 30, 54, 78, 102], [6, 28, 54, 80, 106],
            [6, 32, 58, 84, 110], [6, 30, 58, 86, 114], [6, 34, 62, 90, 118],
            [6, 26, 50, 74, 98, 122], [6, 30, 54, 78, 102, 126], [6, 26, 52, 78, 104, 130],
            [6, 30, 56, 82, 108, 134], [6, 34, 60, 86, 112, 138], [6, 30, 58, 86, 114, 142],
            [6, 34, 62, 90, 118, 146],
            [6, 30, 54, 78, 102, 126, 150], [6, 24, 50, 76, 102, 128, 154], [6, 28, 54, 80, 106, 132, 158],
            [6, 32, 58, 84, 110, 136, 162], [6, 26, 54, 82, 110, 138, 166], [6, 30, 58, 86, 114, 142, 170],
        ]

        /// The data mask conditions of ISO/IEC 18004 Table 10, i the row and j the column.
        static func maskCondition(_ mask: Int, i: Int, j: Int) -> Bool {
            switch mask {
            case 0b000: (i + j) % 2 == 0
            case 0b001: i % 2 == 0
            case 0b010: j % 3 == 0
            case 0b011: (i + j) % 3 == 0
            case 0b100: (i / 2 + j / 3) % 2 == 0
            case 0b101: (i * j) % 2 + (i * j) % 3 == 0
            case 0b110: ((i * j) % 2 + (i * j) % 3) % 2 == 0
            default: ((i * j) % 3 + (i + j) % 2) % 2 == 0
            }
        }

        /// The remainder of binary polynomial division (for the BCH checks).
        static func remainder(_ value: Int, dividedBy divisor: Int) -> Int {
            func degree(_ x: Int) -> Int { Int.bitWidth - x.leadingZeroBitCount - 1 }
            var value = value
            while value != 0 && degree(value) >= degree(divisor) { value ^= divisor << (degree(value) - degree(divisor)) }
            return value
        }

        /// Multiplication in GF(2⁸) with x⁸ + x⁴ + x³ + x² + 1, least significant bit first.
        static func multiply(_ a: Int, _ b: Int) -> Int {
            var a = a, b = b, product = 0
            while b > 0 {
                if b & 1 == 1 { product ^= a }
                a <<= 1
                if a & 0x100 != 0 { a ^= 0x11D }
                b >>= 1
            }
            return product
        }

        static func alphaPower(_ exponent: Int) -> Int {
            (0..<exponent).reduce(1) { value, _ in multiply(value, 2) }
        }

        /// A polynomial, highest power first, evaluated at `x` by Horner's rule.
        static func evaluate(_ coefficients: [Int], at x: Int) -> Int {
            coefficients.reduce(0) { multiply($0, x) ^ $1 }
        }

        /// The penalty of a finished symbol by ISO/IEC 18004 section 7.8.3: N1 = 3, N2 = 3,
        /// N3 = 40, N4 = 10. A 1:1:3:1:1 pattern counts once when 4 light modules (or the edge)
        /// lie on either side of it.
        static func penalty(_ code: QRCode) -> Int {
            penalty(size: code.size) { code[$0, $1] }
        }

        static func penalty(size n: Int, dark module: (_ x: Int, _ y: Int) -> Bool) -> Int {
            let rows = (0..<n).map { y in (0..<n).map { module($0, y) } }
            let columns = (0..<n).map { x in (0..<n).map { module(x, $0) } }
            var score = 0
            for line in rows + columns {
                var start = 0
                while start < n {  // N1, run by run
                    var end = start
                    while end < n && line[end] == line[start] { end += 1 }
                    if end - start >= 5 { score += 3 + (end - start - 5) }
                    start = end
                }
                let padded = [Bool](repeating: false, count: 4) + line + [Bool](repeating: false, count: 4)
                let finderLike = [true, false, true, true, true, false, true]
                for i in 4..<(n + 4 - 6) where Array(padded[i..<i + 7]) == finderLike {  // N3
                    if !padded[(i - 4)..<i].contains(true) || !padded[(i + 7)..<(i + 11)].contains(true) { score += 40 }
                }
            }
            for y in 0..<(n - 1) {  // N2
                for x in 0..<(n - 1) where Set([rows[y][x], rows[y][x + 1], rows[y + 1][x], rows[y + 1][x + 1]]).count == 1 {
                    score += 3
                }
            }
            let dark = rows.joined().filter { $0 }.count
            let percent = Double(dark) * 100 / Double(n * n)  // N4
            score += 10 * Int((abs(percent - 50) / 5).rounded(.down))
            return score
        }

        /// FNV-1a (64 bits) of the modules row by row, "1" for dark and "0" for light.
        static func fnv1a(_ code: QRCode) -> UInt64 {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for y in 0..<code.size {
                for x in 0..<code.size {
                    hash = (hash ^ (code[x, y] ? 0x31 : 0x30)) &* 0x0000_0100_0000_01B3
                }
            }
            return hash
        }
    }
}

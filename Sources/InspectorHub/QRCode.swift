// A QR code encoder after ISO/IEC 18004 (Model 2): byte mode, versions 1–40, all four error
// correction levels. Self-contained: no Foundation, no dependencies.

/// A QR code: a square of dark and light modules that encodes a run of bytes.
///
/// The encoder follows ISO/IEC 18004. It stores the data in byte mode, picks the smallest version
/// (1–40) that holds it at the requested error correction level, appends the Reed–Solomon error
/// correction codewords, and applies whichever of the eight data masks gives the lowest penalty
/// score.
///
/// A symbol is ``size`` modules wide and high. `code[x, y]` is `true` for a dark module, with
/// `(0, 0)` the top-left corner. Readers need a light margin, the quiet zone, around the symbol:
/// ``terminalText(quietZone:inverted:)`` draws one.
///
/// ```swift
/// let code = try QRCode(encoding: "inspector://enroll?token=…", correction: .medium)
/// print(code.terminalText(inverted: true), terminator: "")  // a terminal with a dark background
/// ```
public struct QRCode: Sendable, Hashable {
    /// How much damage a symbol survives, traded against how much data it holds.
    ///
    /// A reader restores roughly 7 %, 15 %, 25 % or 30 % of the codewords at ``low``, ``medium``,
    /// ``quartile`` and ``high``; each step up needs a larger symbol for the same data.
    public enum CorrectionLevel: Sendable, Hashable, CaseIterable {
        /// Restores about 7 % of the codewords.
        case low
        /// Restores about 15 % of the codewords.
        case medium
        /// Restores about 25 % of the codewords.
        case quartile
        /// Restores about 30 % of the codewords.
        case high

        /// The two error correction bits of the format information (ISO/IEC 18004 Table 12).
        var formatIndicator: Int {
            switch self {
            case .low: 0b01
            case .medium: 0b00
            case .quartile: 0b11
            case .high: 0b10
            }
        }

        /// The row of this level in the block tables.
        fileprivate var tableIndex: Int {
            switch self {
            case .low: 0
            case .medium: 1
            case .quartile: 2
            case .high: 3
            }
        }
    }

    /// An error that keeps data from being encoded.
    public enum EncodingError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The data does not fit in a symbol of version 40 at the requested correction level.
        ///
        /// `byteCount` is the length of the data; `maximum` is the most bytes a symbol holds at
        /// that level: 2953, 2331, 1663 or 1273 from ``CorrectionLevel/low`` to
        /// ``CorrectionLevel/high``.
        case tooLong(byteCount: Int, maximum: Int)

        /// A sentence that names both lengths.
        public var description: String {
            switch self {
            case let .tooLong(byteCount, maximum):
                "\(byteCount) bytes do not fit in a QR code: at this error correction level the "
                    + "largest one (version 40) holds at most \(maximum) bytes"
            }
        }
    }

    /// The version, from 1 (21 × 21 modules) to 40 (177 × 177 modules).
    public let version: Int

    /// The number of modules along each side, `17 + 4 × version`, without the quiet zone.
    public let size: Int

    /// The error correction level of the symbol.
    public let correction: CorrectionLevel

    /// The data mask pattern applied to the symbol, from 0 to 7.
    ///
    /// The encoder picks the pattern with the lowest penalty score (ISO/IEC 18004 section 7.8.3).
    public let mask: Int

    /// The modules row by row, `true` for dark: module `(x, y)` is at `y * size + x`.
    private let modules: [Bool]

    /// Encodes bytes in a QR code of the smallest version that holds them.
    ///
    /// The bytes are stored as they are, in byte mode. Most readers take them for UTF-8 text
    /// when they decode as such.
    ///
    /// - Parameters:
    ///   - bytes: The data to encode, up to 2953 bytes at ``CorrectionLevel/low``.
    ///   - correction: The error correction level; ``CorrectionLevel/medium`` by default.
    /// - Throws: ``EncodingError/tooLong(byteCount:maximum:)`` when even version 40 cannot hold
    ///   the data at that level.
    public init(encoding bytes: some Collection<UInt8>, correction: CorrectionLevel = .medium)
        throws(QRCode.EncodingError)
    {
        try self.init(bytes: Array(bytes), correction: correction)
    }

    /// Encodes the UTF-8 form of a string in a QR code of the smallest version that holds it.
    ///
    /// - Parameters:
    ///   - text: The text to encode; its UTF-8 bytes go into the symbol in byte mode.
    ///   - correction: The error correction level; ``CorrectionLevel/medium`` by default.
    /// - Throws: ``EncodingError/tooLong(byteCount:maximum:)`` when even version 40 cannot hold
    ///   the text's UTF-8 bytes at that level.
    public init(encoding text: String, correction: CorrectionLevel = .medium) throws(QRCode.EncodingError) {
        try self.init(bytes: Array(text.utf8), correction: correction)
    }

    /// Encodes `bytes` at `version` (or the smallest that fits) with `mask` (or the best one).
    init(bytes: [UInt8], correction: CorrectionLevel, version chosenVersion: Int? = nil, mask chosenMask: Int? = nil)
        throws(QRCode.EncodingError)
    {
        precondition(chosenMask.map { (0...7).contains($0) } ?? true, "QR code masks run from 0 to 7")
        let version: Int
        if let chosenVersion {
            precondition((1...40).contains(chosenVersion), "QR code versions run from 1 to 40")
            precondition(bytes.count <= Self.byteCapacity(version: chosenVersion, correction: correction), "too long")
            version = chosenVersion
        } else if let smallest = (1...40).first(where: {
            bytes.count <= Self.byteCapacity(version: $0, correction: correction)
        }) {
            version = smallest
        } else {
            throw .tooLong(byteCount: bytes.count, maximum: Self.byteCapacity(version: 40, correction: correction))
        }

        let data = Self.dataCodewords(for: bytes, version: version, correction: correction)
        var canvas = Canvas(version: version)
        canvas.placeCodewords(Self.interleavedCodewords(data: data, version: version, correction: correction))

        // Each mask in turn, with its format information drawn; the first lowest penalty wins.
        let masks = chosenMask.map { [$0] } ?? Array(0...7)
        var best = (mask: 0, penalty: Int.max, modules: canvas.modules)
        for mask in masks {
            var candidate = canvas
            candidate.applyMask(mask)
            candidate.drawFormatBits(Self.formatBits(correction: correction, mask: mask))
            let penalty = masks.count == 1 ? 0 : Self.penalty(of: candidate.modules, size: candidate.size)
            if penalty < best.penalty { best = (mask, penalty, candidate.modules) }
        }
        self.version = version
        self.size = canvas.size
        self.correction = correction
        self.mask = best.mask
        self.modules = best.modules
    }

    /// Whether the module at column `x` and row `y` is dark.
    ///
    /// `(0, 0)` is the top-left module. Coordinates outside the symbol are light: they fall in
    /// the quiet zone.
    public subscript(x: Int, y: Int) -> Bool {
        guard (0..<size).contains(x), (0..<size).contains(y) else { return false }
        return modules[y * size + x]
    }

    /// Draws the symbol as text for a terminal, two rows of modules to a line.
    ///
    /// Each character is one module wide and two modules high: `█` for both halves drawn, `▀`
    /// for the upper, `▄` for the lower, a space for neither. Terminal cells are about twice as
    /// high as wide, so the modules come out close to square. Every line ends with a newline.
    ///
    /// A reader needs dark modules on a light ground, and the glyphs are drawn in the terminal's
    /// text colour. So:
    ///
    /// - With `inverted` false (the default), the glyphs draw the *dark* modules and spaces leave
    ///   the light ones and the quiet zone to the background: for dark text on a light
    ///   background, and for printing on paper.
    /// - With `inverted` true, the glyphs draw the *light* modules and the quiet zone, and the
    ///   dark modules are background: for light text on a dark background, the usual terminal.
    ///
    /// - Parameters:
    ///   - quietZone: The width in modules of the light margin on every side; 2 by default,
    ///     which is usually enough on a screen (the standard asks for 4). Must not be negative.
    ///   - inverted: Whether the glyphs draw the light modules rather than the dark ones.
    /// - Returns: `(size + 2 × quietZone + 1) / 2` lines of `size + 2 × quietZone` characters.
    public func terminalText(quietZone: Int = 2, inverted: Bool = false) -> String {
        precondition(quietZone >= 0, "the quiet zone cannot be negative")
        let width = size + 2 * quietZone
        // Whether the glyph covers module (x, y) of the text, quiet zone included; nothing is
        // drawn below the last row.
        func drawn(_ x: Int, _ y: Int) -> Bool {
            y < width && self[x - quietZone, y - quietZone] != inverted
        }
        var text = ""
        text.unicodeScalars.reserveCapacity((width + 1) * (width + 1) / 2)
        for y in stride(from: 0, to: width, by: 2) {
            for x in 0..<width {
                switch (drawn(x, y), drawn(x, y + 1)) {
                case (true, true): text.unicodeScalars.append("█")
                case (true, false): text.unicodeScalars.append("▀")
                case (false, true): text.unicodeScalars.append("▄")
                case (false, false): text.unicodeScalars.append(" ")
                }
            }
            text.unicodeScalars.append("\n")
        }
        return text
    }
}

// MARK: - Capacity and codewords

extension QRCode {
    /// Error correction codewords per block, by level (L, M, Q, H) and version (index 0 unused).
    /// ISO/IEC 18004 Table 9.
    private static let ecCodewordsPerBlock: [[Int]] = [
        [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
         28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
         26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
        [0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
         28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
         30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    ]

    /// Error correction blocks, by level (L, M, Q, H) and version (index 0 unused).
    /// ISO/IEC 18004 Table 9.
    private static let blockCounts: [[Int]] = [
        [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
         8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
        [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
         17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
        [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
         23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
        [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
         25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
    ]

    /// The codewords of a symbol, data and error correction: its modules less the function
    /// patterns, format and version information, divided by 8 (the rest are remainder bits).
    static func totalCodewordCount(version: Int) -> Int {
        var modules = (16 * version + 128) * version + 64
        if version >= 2 {
            let alignments = version / 7 + 2
            modules -= (25 * alignments - 10) * alignments - 55
            if version >= 7 { modules -= 36 }
        }
        return modules / 8
    }

    /// The data codewords of a symbol, by version and level.
    static func dataCodewordCount(version: Int, correction: CorrectionLevel) -> Int {
        let level = correction.tableIndex
        return totalCodewordCount(version: version) - ecCodewordsPerBlock[level][version] * blockCounts[level][version]
    }

    /// The blocks of a symbol: how many, and how many error correction codewords each has.
    static func blockStructure(version: Int, correction: CorrectionLevel) -> (count: Int, ecCodewords: Int) {
        (blockCounts[correction.tableIndex][version], ecCodewordsPerBlock[correction.tableIndex][version])
    }

    /// The most bytes a symbol holds in byte mode: its data bits less the 4-bit mode indicator
    /// and the character count (8 bits to version 9, 16 from version 10).
    static func byteCapacity(version: Int, correction: CorrectionLevel) -> Int {
        (dataCodewordCount(version: version, correction: correction) * 8 - 4 - characterCountBits(version: version)) / 8
    }

    /// The width of the byte-mode character count indicator (ISO/IEC 18004 Table 3).
    static func characterCountBits(version: Int) -> Int { version < 10 ? 8 : 16 }

    /// The data codewords: mode indicator, count, the bytes, terminator, then pad codewords.
    static func dataCodewords(for bytes: [UInt8], version: Int, correction: CorrectionLevel) -> [UInt8] {
        let capacity = dataCodewordCount(version: version, correction: correction)
        var result: [UInt8] = []
        result.reserveCapacity(capacity)
        var bitCount = 0
        func append(_ value: Int, bits: Int) {
            for i in stride(from: bits - 1, through: 0, by: -1) {
                if bitCount % 8 == 0 { result.append(0) }
                if (value >> i) & 1 == 1 { result[result.count - 1] |= 0x80 >> UInt8(bitCount % 8) }
                bitCount += 1
            }
        }
        append(0b0100, bits: 4)  // byte mode
        append(bytes.count, bits: characterCountBits(version: version))
        for byte in bytes { append(Int(byte), bits: 8) }
        append(0, bits: min(4, capacity * 8 - bitCount))  // terminator, cut short when full
        append(0, bits: (8 - bitCount % 8) % 8)  // to a codeword boundary
        var pad: UInt8 = 0xEC
        while result.count < capacity {
            result.append(pad)
            pad ^= 0xEC ^ 0x11
        }
        return result
    }

    /// Splits the data codewords into blocks, appends each block's error correction codewords,
    /// and interleaves them: the data codewords block by block, then the error correction ones.
    static func interleavedCodewords(data: [UInt8], version: Int, correction: CorrectionLevel) -> [UInt8] {
        let (blockCount, ecLength) = blockStructure(version: version, correction: correction)
        let total = totalCodewordCount(version: version)
        precondition(data.count == total - blockCount * ecLength, "wrong number of data codewords")
        let shortBlockCount = blockCount - total % blockCount
        let shortDataLength = total / blockCount - ecLength
        let generator = reedSolomonGenerator(degree: ecLength)

        var dataBlocks: [ArraySlice<UInt8>] = []
        var ecBlocks: [[UInt8]] = []
        var start = data.startIndex
        for block in 0..<blockCount {
            let length = shortDataLength + (block < shortBlockCount ? 0 : 1)
            let slice = data[start..<start + length]
            start += length
            dataBlocks.append(slice)
            ecBlocks.append(reedSolomonRemainder(of: slice, generator: generator))
        }
        var result: [UInt8] = []
        result.reserveCapacity(total)
        for i in 0...shortDataLength {
            for block in dataBlocks where i < block.count { result.append(block[block.startIndex + i]) }
        }
        for i in 0..<ecLength {
            for block in ecBlocks { result.append(block[i]) }
        }
        return result
    }
}

// MARK: - Reed–Solomon over GF(256)

extension QRCode {
    /// Powers of α = 2 in GF(2⁸) modulo x⁸ + x⁴ + x³ + x² + 1 (0x11D), twice over so that a
    /// sum of two logarithms indexes it directly.
    private static let exponentials: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 510)
        var value = 1
        for i in 0..<255 {
            table[i] = UInt8(value)
            table[i + 255] = UInt8(value)
            value <<= 1
            if value > 0xFF { value ^= 0x11D }
        }
        return table
    }()

    /// The logarithms to base α of 1…255 (index 0 unused).
    private static let logarithms: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for i in 0..<255 { table[Int(exponentials[i])] = i }
        return table
    }()

    /// The product of two elements of GF(2⁸).
    static func fieldProduct(_ x: UInt8, _ y: UInt8) -> UInt8 {
        x == 0 || y == 0 ? 0 : exponentials[logarithms[Int(x)] + logarithms[Int(y)]]
    }

    /// The generator polynomial (x − α⁰)(x − α¹)…(x − α^(degree−1)), highest power first and
    /// without its leading coefficient 1.
    static func reedSolomonGenerator(degree: Int) -> [UInt8] {
        precondition((1...254).contains(degree), "degree out of range")
        var coefficients = [UInt8](repeating: 0, count: degree)
        coefficients[degree - 1] = 1  // the polynomial 1
        for power in 0..<degree {
            // Multiply by (x − αᵖ), which is (x + αᵖ) in GF(2⁸).
            let root = exponentials[power]
            for j in 0..<degree {
                coefficients[j] = fieldProduct(coefficients[j], root)
                if j + 1 < degree { coefficients[j] ^= coefficients[j + 1] }
            }
        }
        return coefficients
    }

    /// The error correction codewords of `data`: the remainder of data(x)·x^degree divided by
    /// the generator, computed as a shift register.
    static func reedSolomonRemainder(of data: some Collection<UInt8>, generator: [UInt8]) -> [UInt8] {
        let degree = generator.count
        var remainder = [UInt8](repeating: 0, count: degree)
        for byte in data {
            let factor = byte ^ remainder[0]
            for i in 0..<degree - 1 { remainder[i] = remainder[i + 1] ^ fieldProduct(generator[i], factor) }
            remainder[degree - 1] = fieldProduct(generator[degree - 1], factor)
        }
        return remainder
    }
}

// MARK: - Function patterns, format and version information

extension QRCode {
    /// The centre rows and columns of the alignment patterns (ISO/IEC 18004 Annex E): 6, then
    /// evenly spaced (by an even step) up to `size − 7`.
    static func alignmentPositions(version: Int) -> [Int] {
        guard version >= 2 else { return [] }
        let count = version / 7 + 2
        let step = version == 32 ? 26 : (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2
        let last = 17 + 4 * version - 7
        return [6] + (0..<count - 1).reversed().map { last - $0 * step }
    }

    /// The 15 bits of format information: level and mask, a BCH(15,5) code with generator
    /// 0x537, masked with 0x5412.
    static func formatBits(correction: CorrectionLevel, mask: Int) -> Int {
        let data = correction.formatIndicator << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return (data << 10 | remainder) ^ 0x5412
    }

    /// The 18 bits of version information (versions 7 and up): the version, a BCH(18,6) code
    /// with generator 0x1F25.
    static func versionBits(version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return version << 12 | remainder
    }

    /// Whether data mask `mask` flips module (x, y) (ISO/IEC 18004 Table 10, i = y, j = x).
    static func maskFlips(_ mask: Int, x: Int, y: Int) -> Bool {
        switch mask {
        case 0: (x + y) % 2 == 0
        case 1: y % 2 == 0
        case 2: x % 3 == 0
        case 3: (x + y) % 3 == 0
        case 4: (x / 3 + y / 2) % 2 == 0
        case 5: x * y % 2 + x * y % 3 == 0
        case 6: (x * y % 2 + x * y % 3) % 2 == 0
        default: ((x + y) % 2 + x * y % 3) % 2 == 0
        }
    }

    /// The penalty score of the finished symbol (ISO/IEC 18004 section 7.8.3).
    ///
    /// N1: 3 + (n − 5) for each run of n ≥ 5 modules of one colour in a row or column.
    /// N2: 3 for each 2 × 2 block of one colour, blocks overlapping.
    /// N3: 40 for each 1:1:3:1:1 (dark:light:dark:light:dark) pattern in a row or column
    /// with 4 light modules (or the edge of the symbol) before or after it.
    /// N4: 10 for each full 5 % by which the dark modules stray from half of the symbol.
    static func penalty(of modules: [Bool], size: Int) -> Int {
        modules.withUnsafeBufferPointer { modules in
            var score = 0
            for y in 0..<size { score += linePenalty(modules, first: y * size, step: 1, count: size) }
            for x in 0..<size { score += linePenalty(modules, first: x, step: size, count: size) }
            for y in 0..<size - 1 {
                for x in 0..<size - 1 {
                    let i = y * size + x
                    let colour = modules[i]
                    if modules[i + 1] == colour && modules[i + size] == colour && modules[i + size + 1] == colour {
                        score += 3
                    }
                }
            }
            var dark = 0
            for module in modules where module { dark += 1 }
            let total = size * size
            return score + abs(dark * 20 - total * 10) / total * 10
        }
    }

    /// N1 and N3 for the line of `count` modules from `first`, `step` apart.
    private static func linePenalty(_ modules: UnsafeBufferPointer<Bool>, first: Int, step: Int, count: Int) -> Int {
        var score = 0
        var run = 0
        var previous = false
        // The last 15 modules, the newest in bit 0, with 4 light modules on each side of the
        // line: 4 before, the 7 of a 1:1:3:1:1 pattern, 4 after.
        var window = 0
        for k in 0..<count + 4 {
            let dark = k < count && modules[first + k * step]
            if k < count {
                if k > 0 && dark == previous {
                    run += 1
                } else {
                    if run >= 5 { score += run - 2 }
                    run = 1
                }
                previous = dark
            }
            window = (window << 1 | (dark ? 1 : 0)) & 0x7FFF
            if (window >> 4) & 0x7F == 0b1011101 && (window >> 11 == 0 || window & 0xF == 0) { score += 40 }
        }
        if run >= 5 { score += run - 2 }
        return score
    }

    /// The penalty score of this symbol, by which its mask was chosen.
    var penalty: Int { Self.penalty(of: modules, size: size) }

    /// A symbol under construction: its modules, and which of them belong to function patterns.
    private struct Canvas {
        let size: Int
        var modules: [Bool]
        var isFunction: [Bool]

        /// A canvas with every function pattern drawn and the format information reserved.
        init(version: Int) {
            size = 17 + 4 * version
            modules = Array(repeating: false, count: size * size)
            isFunction = modules

            for i in 0..<size {  // timing patterns; the finders then cover their ends
                setFunction(6, i, i % 2 == 0)
                setFunction(i, 6, i % 2 == 0)
            }
            drawFinder(centreX: 3, centreY: 3)
            drawFinder(centreX: size - 4, centreY: 3)
            drawFinder(centreX: 3, centreY: size - 4)
            let positions = QRCode.alignmentPositions(version: version)
            for (i, x) in positions.enumerated() {
                for (j, y) in positions.enumerated() {
                    let last = positions.count - 1
                    if (i, j) == (0, 0) || (i, j) == (0, last) || (i, j) == (last, 0) { continue }  // finders
                    for dy in -2...2 {
                        for dx in -2...2 { setFunction(x + dx, y + dy, max(abs(dx), abs(dy)) != 1) }
                    }
                }
            }
            drawFormatBits(0)  // reserves the area; each mask draws its own
            if version >= 7 {
                let bits = QRCode.versionBits(version: version)
                for i in 0..<18 {
                    let dark = (bits >> i) & 1 == 1
                    setFunction(size - 11 + i % 3, i / 3, dark)  // top right, 3 wide and 6 high
                    setFunction(i / 3, size - 11 + i % 3, dark)  // bottom left, 6 wide and 3 high
                }
            }
        }

        mutating func setFunction(_ x: Int, _ y: Int, _ dark: Bool) {
            modules[y * size + x] = dark
            isFunction[y * size + x] = true
        }

        /// A finder pattern (7 × 7) with its light separator, clipped at the edges.
        mutating func drawFinder(centreX: Int, centreY: Int) {
            for dy in -4...4 {
                for dx in -4...4 {
                    let x = centreX + dx, y = centreY + dy
                    guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                    let ring = max(abs(dx), abs(dy))
                    setFunction(x, y, ring != 2 && ring != 4)
                }
            }
        }

        /// Both copies of the format information (bit 0 the least significant), and the dark
        /// module.
        mutating func drawFormatBits(_ bits: Int) {
            func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
            for i in 0...5 { setFunction(8, i, bit(i)) }  // beside the top-left finder
            setFunction(8, 7, bit(6))
            setFunction(8, 8, bit(7))
            setFunction(7, 8, bit(8))
            for i in 9..<15 { setFunction(14 - i, 8, bit(i)) }
            for i in 0..<8 { setFunction(size - 1 - i, 8, bit(i)) }  // under the top-right finder
            for i in 8..<15 { setFunction(8, size - 15 + i, bit(i)) }  // beside the bottom-left one
            setFunction(8, size - 8, true)  // the dark module
        }

        /// Places the codewords' bits, most significant first, in two-module columns from the
        /// bottom-right corner, zigzagging up and down and skipping the vertical timing pattern.
        /// The remainder bits left over stay light (0).
        mutating func placeCodewords(_ codewords: [UInt8]) {
            let bitCount = codewords.count * 8
            var i = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                let upward = (right + 1) & 2 == 0
                for step in 0..<size {
                    let y = upward ? size - 1 - step : step
                    for x in [right, right - 1] where i < bitCount && !isFunction[y * size + x] {
                        modules[y * size + x] = (codewords[i >> 3] >> (7 - UInt8(i & 7))) & 1 == 1
                        i += 1
                    }
                }
                right -= 2
            }
            precondition(i == bitCount, "the codewords do not fill the symbol")
        }

        /// Flips the data modules that `mask` selects.
        mutating func applyMask(_ mask: Int) {
            for y in 0..<size {
                for x in 0..<size where !isFunction[y * size + x] && QRCode.maskFlips(mask, x: x, y: y) {
                    modules[y * size + x].toggle()
                }
            }
        }
    }
}

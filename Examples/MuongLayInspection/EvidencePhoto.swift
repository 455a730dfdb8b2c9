import Foundation

/// A small picture of a page of records with a red seal, as the PNG an inspector's camera would
/// save: enough for the scenario to attach a real image that `report.html` shows as a thumbnail.
///
/// The PNG is written by hand (uncompressed DEFLATE blocks, CRC-32, Adler-32): the scenario needs
/// no image library.
enum EvidencePhoto {
    static let width = 96, height = 128

    /// The PNG's bytes.
    static func png() -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0)  // filter: none
            for x in 0..<width {
                raw += pixel(x: x, y: y)
            }
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
        out += chunk("IDAT", zlibStored(raw))
        out += chunk("IEND", [])
        return out
    }

    /// Paper, lines of text, a signature and a round red seal.
    private static func pixel(x: Int, y: Int) -> [UInt8] {
        let (cx, cy, r) = (70, 100, 16)
        let d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy)
        if d2 <= r * r && d2 >= (r - 3) * (r - 3) { return [200, 30, 30] }
        if x < 6 || x >= width - 6 || y < 6 || y >= height - 6 { return [120, 110, 100] }
        if y % 8 == 0 && y > 12 && y < 84 && x > 12 && x < width - 12 - (y % 24) { return [60, 60, 70] }
        return [246, 242, 228]
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc32(typed))
    }

    /// A zlib stream of stored (uncompressed) DEFLATE blocks.
    private static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65_535, data.count - offset)
            let final: UInt8 = offset + count == data.count ? 1 : 0
            let length = UInt16(count)
            out += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += data[offset..<offset + count]
            offset += count
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return out + bigEndian(b << 16 | a)
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}

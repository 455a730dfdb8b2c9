/// Choices read from a fuzzer's input, one after another.
///
/// Every byte string is a valid script: each choice takes the next byte (or bytes) and maps it onto
/// its range, and past the end every choice reads as zero, the first option. So libFuzzer's
/// mutations of the bytes become changes of choices, and coverage guidance works on the session the
/// bytes describe. The seeded fuzzer in the test suite feeds it bytes drawn from a ``SplitMix64``.
///
/// ```swift
/// var reader = FuzzInputReader([3, 200, 7])
/// let steps = reader.int(1...4)       // 3 % 4 + 1 = 4
/// let fast = reader.chance(50)        // 200 % 100 < 50: false
/// ```
public struct FuzzInputReader: Sendable {
    /// The input.
    public let bytes: [UInt8]
    /// How many bytes the choices made so far have taken.
    public private(set) var position = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether every byte has been read; later choices read as zero.
    public var isAtEnd: Bool { position >= bytes.count }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next 8 bytes as a little-endian number (missing bytes read as zero).
    public mutating func uint64() -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { value |= UInt64(byte()) << UInt64(shift) }
        return value
    }

    /// A number in `range`: one byte for ranges of up to 256 values, two up to 65,536, else eight.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        let width = UInt64(bitPattern: Int64(range.upperBound &- range.lowerBound))
        guard width > 0 else { return range.lowerBound }
        let raw: UInt64
        if width < 256 {
            raw = UInt64(byte())
        } else if width < 65_536 {
            raw = UInt64(byte()) | UInt64(byte()) << 8
        } else {
            raw = uint64()
        }
        let offset = width == UInt64.max ? raw : raw % (width + 1)
        return range.lowerBound &+ Int(truncatingIfNeeded: offset)
    }

    /// True for `percent` of the byte values (one byte).
    public mutating func chance(_ percent: Int) -> Bool {
        Int(byte()) % 100 < percent
    }

    /// One element of a non-empty array.
    public mutating func pick<T>(_ array: [T]) -> T {
        array[int(0...(array.count - 1))]
    }
}
